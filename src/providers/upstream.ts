/**
 * The one send pipeline every HTTP adapter uses: POST a JSON body, then either read the whole
 * answer (non-streaming) or hand back its server-sent events (streaming). Non-2xx answers are
 * classified into `UpstreamError`s by the provider's error extractor, transport failures by
 * `transportError`, and the upstream's rate-limit headers are read into one shape. Secrets are
 * scrubbed from errors at the registry's guard (`guard.ts`), the choke point for every adapter.
 */
import { UpstreamError } from '../errors.ts';
import {
  type ErrorContext,
  type ErrorDetails,
  errorFromResponse,
  type HeaderMap,
  type HttpResponse,
  parseJsonBody,
  readText,
  transportError,
} from './http.ts';
import { parseSse, type SseEvent } from './sse.ts';
import type { CallOptions, ProviderDeps, UpstreamMeta } from './types.ts';

export interface UpstreamSetup {
  provider: string;
  /** The gateway's model name (messages name it). */
  model: string;
  /** Headers for every request (auth, content type, version pins). */
  headers: Record<string, string>;
  /** The provider's error body -> message, code, type, param. */
  extractError: (body: unknown) => ErrorDetails;
  /** Classify a non-2xx answer the provider's own way; default: `errorFromResponse` with `extractError`. */
  classify?: (status: number, headers: HeaderMap, bodyText: string, nowMs: number) => UpstreamError;
  /** The provider's rate-limit headers; default: OpenAI's `x-ratelimit-remaining-*`. */
  remainingHeaders?: { requests: string; tokens: string };
}

export interface Upstream {
  readonly context: ErrorContext;
  /** POST and read the whole JSON answer; `headers` add to (and override) the setup's for this call. */
  json<T>(
    url: string,
    body: unknown,
    options: CallOptions,
    headers?: Record<string, string>,
  ): Promise<{ body: T; meta: UpstreamMeta }>;
  /** POST and return the answer's events once the upstream accepted (2xx). */
  events(
    url: string,
    body: unknown,
    options: CallOptions,
    headers?: Record<string, string>,
  ): Promise<{ events: AsyncGenerator<SseEvent>; meta: UpstreamMeta }>;
}

const openAIRemaining = {
  requests: 'x-ratelimit-remaining-requests',
  tokens: 'x-ratelimit-remaining-tokens',
};

export function createUpstream(deps: ProviderDeps, setup: UpstreamSetup): Upstream {
  const context: ErrorContext = { provider: setup.provider, model: setup.model };
  const remaining = setup.remainingHeaders ?? openAIRemaining;
  const streamHeaders = { ...setup.headers, accept: 'text/event-stream' };

  const metaOf = (status: number, headers: HeaderMap): UpstreamMeta => ({
    status,
    budget: {
      remainingRequests: numberHeader(headers, remaining.requests),
      remainingTokens: numberHeader(headers, remaining.tokens),
    },
  });

  const failure = (status: number, headers: HeaderMap, text: string): UpstreamError => {
    const nowMs = deps.nowSeconds() * 1000;
    return setup.classify
      ? setup.classify(status, headers, text, nowMs)
      : errorFromResponse(status, headers, text, context, setup.extractError, nowMs);
  };

  return {
    context,
    async json<T>(url: string, body: unknown, options: CallOptions, headers?: Record<string, string>) {
      const response = await deps.http.sendText(
        {
          url,
          headers: withTrace(headers ? { ...setup.headers, ...headers } : setup.headers, options),
          body: JSON.stringify(body),
        },
        options,
        context,
      );
      if (response.status < 200 || response.status >= 300) {
        throw failure(response.status, response.headers, response.text);
      }
      return {
        body: parseJsonBody<T>(response.text, response, context),
        meta: metaOf(response.status, response.headers),
      };
    },
    async events(url: string, body: unknown, options: CallOptions, headers?: Record<string, string>) {
      const response = await deps.http.send(
        {
          url,
          headers: withTrace(headers ? { ...streamHeaders, ...headers } : streamHeaders, options),
          body: JSON.stringify(body),
        },
        options,
        context,
      );
      if (response.status < 200 || response.status >= 300) {
        const text = await readText(response, options, context).catch(() => '');
        throw failure(response.status, response.headers, text);
      }
      // A proxy's HTML page with 200 is not a stream that was cut: it is not the wire format at all.
      if (String(response.headers['content-type'] ?? '').includes('text/html')) {
        const text = await readText(response, options, context).catch(() => '');
        throw new UpstreamError(
          'bad_response',
          `${setup.model}'s upstream answered a stream request with an HTML page (${text.length} bytes)`,
          { status: response.status, provider: setup.provider, model: setup.model },
        );
      }
      return {
        events: classifiedEvents(response, options, context),
        meta: metaOf(response.status, response.headers),
      };
    },
  };
}

/** The call's trace context goes upstream (W3C `traceparent`), when tracing is on. */
function withTrace(headers: Record<string, string>, options: CallOptions): Record<string, string> {
  return options.traceparent ? { ...headers, traceparent: options.traceparent } : headers;
}

/** SSE events off the body; a mid-body transport failure (reset, idle timeout) is classified. */
function classifiedEvents(
  response: HttpResponse,
  options: CallOptions,
  context: ErrorContext,
): AsyncGenerator<SseEvent> {
  return parseSse(response.body, {
    mapError: (error) => transportError(error, options.signal, context),
    // A consumer that stopped early (client gone, fail-over) releases the socket.
    close: () => {
      if (!response.body.destroyed) response.body.destroy();
    },
  });
}

function numberHeader(headers: HeaderMap, name: string): number | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}
