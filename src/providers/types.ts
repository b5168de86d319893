/**
 * The one interface every provider adapter implements. The gateway core talks only to this;
 * it never imports a provider module (the registry does).
 */
import type { ZodType } from 'zod';
import type { ModelSpec } from '../config/model-spec.ts';
import type { Capability } from '../config/schema.ts';
import type { CancelSignal } from '../lib/cancel.ts';
import type { Clock } from '../resilience/clock.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../types/openai.ts';
import type { HttpClient } from './http.ts';

export interface CallOptions {
  /**
   * Aborted when the client disconnects, the deadline passes, or a hedge loses. Not necessarily
   * an AbortSignal (`lib/cancel.ts`): undici takes it as it is; an API that needs a real one
   * (fetch, `AbortSignal.any`) gets an AbortController aborted from its listener.
   */
  signal: CancelSignal;
  /**
   * Per-attempt timeouts (already shortened to the request deadline). `totalMs` is enforced by
   * the caller, which aborts `signal` with `abortReasons.attemptTimeout`; adapters enforce the rest.
   */
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; totalMs: number };
  requestId: string;
  /** W3C trace context for the upstream call (tracing on). */
  traceparent?: string;
}

/** What the upstream said besides the body: status and its own view of our rate-limit budget. */
export interface UpstreamMeta {
  status: number;
  /** From the provider's rate-limit headers (each adapter knows its own header names). */
  budget: { remainingRequests?: number; remainingTokens?: number };
}

export interface ChatResult {
  completion: ChatCompletion;
  meta: UpstreamMeta;
}

export interface StreamResult {
  meta: UpstreamMeta;
  /**
   * OpenAI-format chunks. Throws an `UpstreamError` if the stream fails midway; ends normally
   * only when the upstream signalled completion (an adapter must throw if the stream was cut).
   */
  chunks: AsyncIterable<ChatCompletionChunk>;
}

export interface ModelClient {
  readonly spec: ModelSpec;
  /** Non-streaming chat. Rejects with an `UpstreamError`. */
  chat(request: ChatRequest, options: CallOptions): Promise<ChatResult>;
  /** Streaming chat. Resolves once the upstream accepted the request (status 2xx). */
  stream(request: ChatRequest, options: CallOptions): Promise<StreamResult>;
  /** Embeddings, where the provider serves them. */
  embeddings?(
    request: EmbeddingsRequest,
    options: CallOptions,
  ): Promise<{ response: EmbeddingsResponse; meta: UpstreamMeta }>;
  close?(): Promise<void>;
}

/** The request with the model's configured output cap where the client set none (every adapter applies it). */
export function withOutputCap(request: ChatRequest, spec: ModelSpec): ChatRequest {
  const cap = spec.configuredOutputTokens;
  if (cap === undefined || request.max_tokens != null || request.max_completion_tokens != null)
    return request;
  return { ...request, max_tokens: cap };
}

export interface ProviderDeps {
  http: HttpClient;
  clock: Clock;
  /** Wall-clock seconds for `created` fields. */
  nowSeconds: () => number;
  /** Unique ids for responses the adapter builds itself. */
  newId: (prefix: string) => string;
  /** Report something odd that did not fail the call (a malformed chunk skipped, say). */
  warn?: (message: string) => void;
  /** Removes every configured secret from a text an upstream produced (applied by the registry's guard). */
  scrub?: (text: string) => string;
}

/**
 * A provider adapter: one folder under src/providers and one line in `registry.ts`.
 * @example export const acmeProvider: ProviderModule = { name: 'acme', defaultCapabilities: ['tools', 'streaming'], create(spec, deps) { ... } };
 */
export interface ProviderModule {
  readonly name: string;
  /** What its models accept unless the config says otherwise. */
  readonly defaultCapabilities: readonly Capability[];
  /** Published prompt-cache prices as multiples of the input price (defaults for `cache_*_cost_per_1k`). */
  readonly cachePricing?: { read: number; write: number };
  /** Provider-specific model settings under one config field (the simulated provider's `simulate:`). */
  readonly options?: { field: 'simulate'; schema: ZodType };
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient;
}
