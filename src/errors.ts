/**
 * One registry of the gateway's error codes, their HTTP status and OpenAI error `type`.
 * Everything a client can see as an error is a `GatewayError` built from this table, so the
 * status for a code is decided in exactly one place.
 */
import type { OpenAIErrorBody } from './types/openai.ts';

export const errorCodes = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  context_length_exceeded: { status: 400, type: 'invalid_request_error' },
  content_policy_violation: { status: 400, type: 'invalid_request_error' },
  unauthorized: { status: 401, type: 'authentication_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  forbidden: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  no_eligible_model: { status: 422, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  rate_limit_exceeded: { status: 429, type: 'requests' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  client_closed_request: { status: 499, type: 'api_error' },
  internal_error: { status: 500, type: 'api_error' },
  upstream_error: { status: 502, type: 'api_error' },
  bad_upstream_response: { status: 502, type: 'api_error' },
  no_model_available: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** An error the gateway returns to its client, in OpenAI's shape. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  /** Extra response headers (e.g. Retry-After on 429). */
  readonly headers: Record<string, string>;
  /** The full story for logs and the request log (what each upstream said); never sent to the client. */
  readonly detail: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      param?: string | null;
      status?: number;
      headers?: Record<string, string>;
      cause?: unknown;
      detail?: string;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.detail = options.detail;
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.type = errorCodes[code].type;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/**
 * How an upstream call failed. The resilience layer decides what to do from the kind alone:
 * retry the same model, move to another, or hand the error to the client.
 */
export type FailureKind =
  /** 429 from the upstream. Retry (after Retry-After) or move on. */
  | 'rate_limited'
  /** 500/502/503/504/529: the upstream's fault, worth retrying. */
  | 'server'
  /** Connection refused/reset, DNS, TLS: worth retrying. */
  | 'network'
  /** No response headers within the first-byte timeout: fail over, do not wait twice. */
  | 'silent'
  /** Total deadline or idle gap between stream chunks passed. */
  | 'timeout'
  /** The upstream answered with something that is not its wire format (HTML, truncated JSON). */
  | 'bad_response'
  /** The prompt does not fit this model: only a model with a larger window can help. */
  | 'context_length'
  /** The upstream refused the content. Not retried on the same model. */
  | 'content_policy'
  /** The client's own fault (400): returned at once, never counted against the model. */
  | 'invalid_request'
  /** 401/403: the deployment's key is bad. Mark unhealthy, move on, log loudly. */
  | 'auth'
  /** 404 from the upstream: the deployment names a model the upstream does not serve. */
  | 'not_found'
  /** Our own caller cancelled (client disconnected, hedge lost). */
  | 'cancelled';

/** An upstream call that failed, already classified. Messages never contain secrets. */
export class UpstreamError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly param: string | null;
  model: string | undefined;
  provider: string | undefined;
  /** The upstream's own words (error body, stream error event), for logs only. */
  detail: string | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    options: {
      status?: number;
      retryAfterMs?: number;
      upstreamCode?: string;
      param?: string | null;
      model?: string;
      provider?: string;
      cause?: unknown;
      /** What the upstream itself said, for logs: kept out of what clients see unless it is their own fault. */
      detail?: string;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
    this.detail = options.detail;
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.upstreamCode = options.upstreamCode;
    this.param = options.param ?? null;
    this.model = options.model;
    this.provider = options.provider;
  }
}

/**
 * Abort reasons shared by every request. Passing a reason to `abort()` also spares Node the
 * DOMException (with its stack trace) it builds for a reason-less abort, on every request.
 */
export const abortReasons = {
  /** The attempt's total timeout passed. */
  attemptTimeout: new Error('attempt timed out'),
  /** The request is over; anything still running for it is cancelled. */
  requestFinished: new Error('request finished'),
  requestDeadline: new Error('request deadline passed'),
  attemptFailed: new Error('attempt failed'),
  hedgeLost: new Error('hedge lost'),
} as const;

/**
 * Failures the client caused (a bad parameter, a prompt too long, refused content): the client
 * needs the upstream's reason. Any other upstream text (internal host names, stack traces) stays
 * in the logs.
 */
export function blamesRequest(kind: FailureKind): boolean {
  return kind === 'invalid_request' || kind === 'context_length' || kind === 'content_policy';
}

/** The full story of a failure for logs: its message and, when it was kept apart, what the upstream said. */
export function logText(error: UpstreamError): string {
  return error.detail ? `${error.message} (${error.detail})` : error.message;
}

/** Failures that say nothing about the model's health (the client's own fault, or cancellation). */
export function countsAgainstModel(kind: FailureKind): boolean {
  return (
    kind !== 'invalid_request' &&
    kind !== 'cancelled' &&
    kind !== 'context_length' &&
    kind !== 'content_policy'
  );
}

/**
 * Classify an upstream HTTP status. Provider adapters refine this with the error body
 * (context length, content policy) before throwing.
 */
export function kindForStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 413) return 'context_length';
  if (status >= 500) return 'server'; // includes Anthropic's 529 overloaded
  if (status >= 400) return 'invalid_request';
  return 'bad_response';
}
