/**
 * The one interface every provider adapter implements. The gateway core talks only to this;
 * it never imports a provider module (the registry does).
 */
import type { ModelSpec } from '../config/model-spec.ts';
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
  /** Aborted when the client disconnects, the deadline passes, or a hedge loses. */
  signal: AbortSignal;
  /**
   * Per-attempt timeouts (already shortened to the request deadline). `totalMs` is enforced by
   * the caller, which aborts `signal` with `abortReasons.attemptTimeout`; adapters enforce the rest.
   */
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; totalMs: number };
  requestId: string;
}

/** What the upstream said besides the body: status and the headers the gateway acts on. */
export interface UpstreamMeta {
  status: number;
  /** Lower-cased rate-limit and retry headers only (never auth headers). */
  rateLimit: Record<string, string>;
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

export interface ProviderDeps {
  http: HttpClient;
  clock: Clock;
  /** Wall-clock seconds for `created` fields. */
  nowSeconds: () => number;
  /** Unique ids for responses the adapter builds itself. */
  newId: (prefix: string) => string;
  /** Report something odd that did not fail the call (a malformed chunk skipped, say). */
  warn?: (message: string) => void;
}

export interface ProviderModule {
  readonly name: string;
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient;
}
