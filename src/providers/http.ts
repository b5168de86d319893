/**
 * Shared HTTP plumbing for the adapters: one undici Agent (keep-alive pools per origin),
 * per-attempt timeouts, transport-error classification, JSON reading that never crashes on
 * HTML or truncated bodies. Adapters never touch sockets.
 */

import type { Dispatcher } from 'undici';
import { Agent, errors as undiciErrors } from 'undici';
import { abortReasons, blamesRequest, type FailureKind, kindForStatus, UpstreamError } from '../errors.ts';
import type { CancelSignal } from '../lib/cancel.ts';
import { DispatchBody, type ResponseBody } from './dispatch-body.ts';
import { SseLineTooLong } from './sse.ts';
import type { CallOptions } from './types.ts';

export type HeaderMap = Record<string, string | string[] | undefined>;

export interface HttpResponse {
  status: number;
  headers: HeaderMap;
  body: ResponseBody;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

/** A whole response read into memory (non-streaming calls). */
export interface TextResponse {
  status: number;
  headers: HeaderMap;
  text: string;
}

export interface HttpClient {
  /** The response once its headers are in; the body streams (a `DispatchBody` on undici's dispatch()). */
  send(request: HttpRequest, options: CallOptions, context: ErrorContext): Promise<HttpResponse>;
  /**
   * The whole response as text, on undici's dispatch() handler API: no Readable body per
   * request (the cheapest way to make a non-streaming call; see bench/README.md).
   */
  sendText(request: HttpRequest, options: CallOptions, context: ErrorContext): Promise<TextResponse>;
  close(): Promise<void>;
}

export interface ErrorContext {
  provider: string;
  model: string;
}

export interface HttpClientOptions {
  /** Max sockets per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
}

/** An HTTP client over undici Agents; one Agent per connect timeout, pooling per origin. */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const agents = new Map<number, Agent>();
  const agentFor = (connectMs: number): Agent => {
    let agent = agents.get(connectMs);
    if (!agent) {
      agent = new Agent({
        connections: options.connections ?? 256,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: connectMs },
        pipelining: 1,
      });
      agents.set(connectMs, agent);
    }
    return agent;
  };

  return {
    send(request, callOptions, context) {
      let body: DispatchBody | undefined;
      return dispatchCall<HttpResponse>(agentFor, request, callOptions, context, (call) => ({
        onResponseStart(controller, status, headers) {
          body = new DispatchBody(controller);
          call.resolve({ status, headers, body });
        },
        onResponseData(_controller, chunk) {
          body?.push(chunk);
        },
        onResponseEnd() {
          call.release();
          body?.end();
        },
        onResponseError(_controller, error) {
          // Before the headers: the call failed; after: the body did (its reader maps it). An
          // abort (timeout, cancellation, a hedge lost) also drops what was read but not yet taken.
          if (body) {
            call.release();
            body.fail(error, callOptions.signal.aborted);
          } else call.fail(error);
        },
      }));
    },
    sendText(request, callOptions, context) {
      let status = 0;
      let headers: HeaderMap = {};
      const chunks: Buffer[] = [];
      let received = 0;
      return dispatchCall<TextResponse>(agentFor, request, callOptions, context, (call) => ({
        onResponseStart(_controller, statusCode, responseHeaders) {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData(controller, chunk) {
          received += chunk.length;
          if (received > maxResponseBytes) {
            controller.abort(tooLarge);
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd() {
          call.release();
          call.resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') });
        },
        onResponseError(_controller, error) {
          call.fail(error);
        },
      }));
    },
    async close() {
      await Promise.all([...agents.values()].map((agent) => agent.close()));
      agents.clear();
    },
  };
}

/** The response events a call handles (the rest of undici's handler is `dispatchCall`'s). */
type ResponseEvents = Required<
  Pick<Dispatcher.DispatchHandler, 'onResponseStart' | 'onResponseData' | 'onResponseEnd' | 'onResponseError'>
>;

/** How a call's events settle it: `fail` classifies the error and releases the abort listener. */
interface CallSettlement<T> {
  resolve(value: T): void;
  fail(error: unknown): void;
  /** Stop listening to the caller's signal (the call is over). */
  release(): void;
}

/**
 * One upstream call on undici's dispatch() API: the call's timeouts, the caller's signal wired to
 * abort it, an interim response (103 Early Hints) skipped, a failure before any event classified.
 * The attempt's total timeout is armed by its caller (the executor) on `signal`, with
 * abortReasons.attemptTimeout as the reason: no per-request AbortSignal.any/timeout here.
 */
function dispatchCall<T>(
  agentFor: (connectMs: number) => Agent,
  request: HttpRequest,
  { timeouts, signal }: CallOptions,
  context: ErrorContext,
  handle: (call: CallSettlement<T>) => ResponseEvents,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(transportError(signal.reason, signal, context));
      return;
    }
    let url: { origin: string; path: string };
    try {
      url = parsedUrl(request.url);
    } catch (error) {
      reject(transportError(error, signal, context));
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = () =>
      controller?.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const release = () => signal.removeEventListener('abort', onAbort);
    const events = handle({
      resolve,
      fail(error) {
        release();
        reject(transportError(error, signal, context));
      },
      release,
    });
    signal.addEventListener('abort', onAbort, { once: true });
    agentFor(timeouts.connectMs).dispatch(
      {
        origin: url.origin,
        path: url.path,
        method: request.method ?? 'POST',
        headers: request.headers,
        body: request.body,
        headersTimeout: timeouts.firstTokenMs,
        bodyTimeout: timeouts.idleMs,
      },
      {
        onRequestStart(dispatchController) {
          controller = dispatchController;
          if (signal.aborted) onAbort();
        },
        onResponseStart(dispatchController, statusCode, headers, statusMessage) {
          if (statusCode < 200) return; // an interim response: the real one follows
          events.onResponseStart(dispatchController, statusCode, headers, statusMessage);
        },
        onResponseData: events.onResponseData,
        onResponseEnd: events.onResponseEnd,
        onResponseError: events.onResponseError,
      },
    );
  });
}

/** A non-streaming answer larger than this is refused (a misbehaving upstream must not fill our memory). */
export const maxResponseBytes = 64 * 1024 * 1024;
const tooLarge = new Error('upstream answer over the size limit');

/** Turn an undici/network failure into a classified UpstreamError. */
export function transportError(
  error: unknown,
  callerSignal: CancelSignal,
  context: ErrorContext,
): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const base = { provider: context.provider, model: context.model, cause: error };
  if (error === tooLarge || error instanceof SseLineTooLong) {
    return new UpstreamError(
      'bad_response',
      `${context.model}'s upstream sent more than the gateway reads in one answer or event`,
      base,
    );
  }
  if (callerSignal.aborted) {
    if (callerSignal.reason === abortReasons.attemptTimeout) {
      return new UpstreamError('timeout', `${context.model} did not finish within its total timeout`, base);
    }
    return new UpstreamError('cancelled', `request to ${context.model} was cancelled`, base);
  }
  if (error instanceof undiciErrors.HeadersTimeoutError) {
    return new UpstreamError(
      'silent',
      `${context.model} sent no response headers before the first-token timeout`,
      base,
    );
  }
  if (error instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamError('timeout', `${context.model} stalled: no data within the idle timeout`, base);
  }
  if (error instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamError(
      'network',
      `could not connect to ${context.model}'s upstream (connect timeout)`,
      base,
    );
  }
  const code = (error as { code?: string } | null)?.code;
  const name = (error as { name?: string } | null)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new UpstreamError('timeout', `${context.model} did not answer in time`, base);
  }
  const detail = code ? ` (${code})` : '';
  return new UpstreamError('network', `network error talking to ${context.model}'s upstream${detail}`, base);
}

/** Read a body as text, mapping a mid-body failure to a classified error. */
export async function readText(
  response: HttpResponse,
  options: CallOptions,
  context: ErrorContext,
): Promise<string> {
  try {
    return await response.body.text();
  } catch (error) {
    throw transportError(error, options.signal, context);
  }
}

/** Parse a JSON body; HTML, empty or truncated bodies become a clear `bad_response` error. */
export function parseJsonBody<T>(
  text: string,
  response: { status: number; headers: HeaderMap },
  context: ErrorContext,
): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    const contentType = String(response.headers['content-type'] ?? 'unknown content type');
    throw new UpstreamError(
      'bad_response',
      `${context.model}'s upstream returned a body that is not valid JSON (${contentType}, ${text.length} bytes${
        text.length > 0 && text.trimStart().startsWith('<') ? ', looks like HTML' : ''
      })`,
      { status: response.status, provider: context.provider, model: context.model, cause: error },
    );
  }
}

/** What an adapter extracts from its provider's error body. */
export interface ErrorDetails {
  message?: string;
  code?: string;
  type?: string;
  param?: string | null;
  /** A retry hint in the body (Gemini's RetryInfo), used when no header gives one. */
  retryAfterMs?: number;
}

const contextLengthPattern =
  /context.length|context_length|maximum context|too many tokens|prompt is too long|input is too long|exceeds the (maximum|context)|token limit/i;
const contentPolicyPattern = /content.policy|content_filter|safety|responsible ai|flagged|harmful/i;

/**
 * Build the UpstreamError for a non-2xx response. The status gives the base kind; the body can
 * refine a 400 into context-length or content-policy. The message names the model and status,
 * and carries the upstream's own message (the registry's guard scrubs secrets from it).
 */
export function errorFromResponse(
  status: number,
  headers: HeaderMap,
  bodyText: string,
  context: ErrorContext,
  extract: (body: unknown) => ErrorDetails,
  nowMs?: number,
): UpstreamError {
  let details: ErrorDetails = {};
  try {
    details = extract(JSON.parse(bodyText));
  } catch {
    // Non-JSON error body (an HTML error page from a proxy, say): the status says enough.
  }
  let kind: FailureKind = kindForStatus(status);
  const haystack = `${details.code ?? ''} ${details.type ?? ''} ${details.message ?? ''}`;
  if ((kind === 'invalid_request' || kind === 'context_length') && contextLengthPattern.test(haystack)) {
    kind = 'context_length';
  } else if (kind === 'invalid_request' && contentPolicyPattern.test(haystack)) {
    kind = 'content_policy';
  }
  const said = details.message ? truncate(details.message, 500) : undefined;
  // The client sees the upstream's words only when they are about the client's own request.
  const upstreamMessage = said && blamesRequest(kind) ? `: ${said}` : '';
  return new UpstreamError(kind, `${context.model} returned HTTP ${status}${upstreamMessage}`, {
    detail: said && !upstreamMessage ? said : undefined,
    status,
    retryAfterMs: retryAfterFromHeaders(headers, nowMs) ?? details.retryAfterMs,
    upstreamCode: details.code,
    param: details.param ?? null,
    provider: context.provider,
    model: context.model,
  });
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Join a base URL and a path without doubling or losing slashes. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** Parse Retry-After (seconds or HTTP date), retry-after-ms, and x-ratelimit-reset-* headers. */
export function retryAfterFromHeaders(
  headers: Record<string, string | string[] | undefined>,
  nowMs: number = Date.now(),
): number | undefined {
  const single = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const ms = single('retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = single('retry-after');
  if (after !== undefined) {
    const seconds = Number(after);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(after);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  // OpenAI: x-ratelimit-reset-requests: "1s", "6m0s", "20ms"
  const reset = single('x-ratelimit-reset-requests') ?? single('x-ratelimit-reset-tokens');
  if (reset !== undefined) return parseDurationMs(reset);
  return undefined;
}

/** Parse Go-style durations as OpenAI sends them ("1s", "6m0s", "250ms", "1h2m3.5s"). */
export function parseDurationMs(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  for (const match of text.matchAll(pattern)) {
    matched = true;
    const value = Number(match[1]);
    const unit = match[2];
    total +=
      unit === 'h' ? value * 3_600_000 : unit === 'm' ? value * 60_000 : unit === 's' ? value * 1000 : value;
  }
  return matched ? total : undefined;
}

/** Upstream URLs are a few per model: parsed once each, not per request. */
const parsedUrls = new Map<string, { origin: string; path: string }>();
const PARSED_URLS_MAX = 1024;

function parsedUrl(text: string): { origin: string; path: string } {
  let parsed = parsedUrls.get(text);
  if (!parsed) {
    const url = new URL(text);
    parsed = { origin: url.origin, path: url.pathname + url.search };
    if (parsedUrls.size >= PARSED_URLS_MAX) parsedUrls.clear();
    parsedUrls.set(text, parsed);
  }
  return parsed;
}
