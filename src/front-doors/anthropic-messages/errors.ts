/**
 * Errors in Anthropic's shape: `{"type":"error","error":{"type":"...","message":"..."}}`, with the
 * HTTP status Anthropic documents for each type. The gateway's own errors (GatewayError, one
 * registry in src/errors.ts) are mapped here by status, so the status a client sees is the one
 * the gateway decided; only the error `type` and shape change.
 */
import { GatewayError, UpstreamError } from '../../errors.ts';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
  request_id?: string;
}

/** A Messages API error: throw it, then answer `status` with `toJSON()` (or `frame()` mid-stream). */
export class AnthropicApiError extends Error {
  readonly status: number;
  readonly type: AnthropicErrorType;
  /** Extra response headers (Retry-After on a 429). */
  readonly headers: Record<string, string>;

  constructor(
    type: AnthropicErrorType,
    message: string,
    options: { status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AnthropicApiError';
    this.type = type;
    this.status = options.status ?? statusForType[type];
    this.headers = options.headers ?? {};
  }

  toJSON(requestId?: string): AnthropicErrorBody {
    const body: AnthropicErrorBody = { type: 'error', error: { type: this.type, message: this.message } };
    if (requestId) body.request_id = requestId;
    return body;
  }
}

/** A 400 invalid_request_error, the answer to a malformed body. */
export function invalidMessagesRequest(message: string): AnthropicApiError {
  return new AnthropicApiError('invalid_request_error', message);
}

const statusForType: Record<AnthropicErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * The Anthropic error type for an HTTP status.
 * - 502 is `api_error`: an upstream answered something broken; capacity is not the problem.
 * - 503 is `overloaded_error`: the gateway had no model able to take the request (all failed,
 *   breakers open, caps reached), which is what Anthropic's 529 means to a client, and the type
 *   Claude Code and the SDKs treat as "overloaded, retry later". The status stays 503.
 * - 504 (and 408) is `timeout_error`, Anthropic's type for a request that timed out.
 * - Other 4xx are `invalid_request_error`, as Anthropic does for 4xx it does not list.
 */
export function anthropicErrorTypeForStatus(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 408:
    case 504:
      return 'timeout_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

/**
 * Any error the pipeline throws, as an Anthropic error with the same status. A prompt that fits
 * no model says "prompt is too long", the words Claude Code looks for before compacting.
 */
export function toAnthropicError(error: unknown): AnthropicApiError {
  if (error instanceof AnthropicApiError) return error;
  if (error instanceof GatewayError) {
    let message = error.message;
    if (error.code === 'context_length_exceeded' && !/prompt is too long/i.test(message)) {
      message = `prompt is too long: ${message}`;
    }
    return new AnthropicApiError(anthropicErrorTypeForStatus(error.status), message, {
      status: error.status,
      headers: error.headers,
      cause: error,
    });
  }
  if (error instanceof UpstreamError) {
    const status = error.status && error.status >= 400 ? error.status : statusForKind(error.kind);
    return new AnthropicApiError(anthropicErrorTypeForStatus(status), error.message, {
      status,
      cause: error,
    });
  }
  // Anything else is a bug; its message may hold internals, so it stays out of the answer.
  return new AnthropicApiError('api_error', 'Internal server error', { status: 500, cause: error });
}

function statusForKind(kind: UpstreamError['kind']): number {
  switch (kind) {
    case 'invalid_request':
    case 'context_length':
    case 'content_policy':
      return 400;
    case 'rate_limited':
      return 429;
    case 'timeout':
    case 'silent':
      return 504;
    default:
      return 502;
  }
}
