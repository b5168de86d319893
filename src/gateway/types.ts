/** The library's public types: what `createGateway` takes and what its requests return. */
import type { GatewayConfig } from '../config/load.ts';
import type { Priority, RawConfig } from '../config/schema.ts';
import type { GatewayError } from '../errors.ts';
import type { CancelSignal } from '../lib/cancel.ts';
import type { EventBus, FrontDoor, ModelStatus, RequestTracer } from '../observability/events.ts';
import type { GatewayLogger } from '../observability/logger.ts';
import type { SimulatedControl } from '../providers/simulated/index.ts';
import type { Clock } from '../resilience/clock.ts';
import type { HealthBoard } from '../resilience/health-board.ts';
import type { NoRoute, RouteDecision } from '../routing/types.ts';
import type { Adjustment, Bucket, BucketState, Store } from '../state/store.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../types/openai.ts';
import type { FeedbackOutcome, FeedbackTarget } from './feedback.ts';

export type { ModelStatus };

export interface GatewayOptions {
  /** A config object (the YAML's shape) or an already-normalised config. */
  config: RawConfig | GatewayConfig;
  clock?: Clock;
  /** Seed for load balancing and backoff jitter (default: config routing.seed, else random). */
  seed?: number;
  logger?: GatewayLogger;
  env?: NodeJS.ProcessEnv;
  /** Shared state (default: in process memory; `startServer` passes Redis when `state.redis` is set). */
  store?: Store;
  /** This instance's id within a fleet (default: random). */
  instanceId?: string;
  /** Request and attempt spans (OpenTelemetry); default: none, at no cost. */
  tracer?: RequestTracer;
  /**
   * The event bus to publish on (default: a new one). A reloaded gateway takes its predecessor's,
   * so stats, metrics, the request log and the dashboard keep their subscriptions (config reload).
   */
  events?: EventBus;
}

export interface RequestOptions {
  /** Cancels the request (an AbortSignal, or anything with its `aborted`, `reason` and abort listeners). */
  signal?: CancelSignal;
  /** Request headers (for rules, `x-switchyard-priority` and `x-switchyard-hedge`). */
  headers?: Record<string, string | string[] | undefined>;
  /** Our id for the request (default: minted). Clients' ids go in `clientRequestId`. */
  requestId?: string;
  /** The client's own `x-request-id`, kept beside ours in the request log. */
  clientRequestId?: string;
  /** An id for the client key (never the key itself), for the request log. */
  clientKeyId?: string;
  /** The front door the request came through (default: chat). */
  api?: FrontDoor;
  /** What the client's key allows (virtual keys): models, limits, budget. Absent: no limits. */
  access?: AccessGrant;
  /**
   * Write the answer first, account for it after: the request's summary (metrics, request log,
   * the key's settlement, the trace span) waits until the caller calls `ChatResult.finish()`, or
   * for a stream `StreamHandle.finish()` after its last write (at the latest, the next turn of
   * the event loop). The server sets it, so the sinks' work is not between the upstream's answer
   * and the client's.
   */
  deferSummary?: boolean;
}

/** What a request is expected to cost, for a key's limits and budget. */
export interface RequestEstimate {
  tokens: number;
  /** USD at the dearest model of the chain (a fall-back may answer). */
  costUsd: number;
}

/** What a request really cost, known at its end. */
export interface RequestUsage {
  tokens: number;
  costUsd: number;
}

/** One client key's permissions, as the gateway applies them to a request. */
export interface AccessGrant {
  /** The key's public id (request log, metrics). */
  keyId: string;
  /** Models the key may use; `auto` chooses only among them. Absent: every model. */
  models?: ReadonlySet<string>;
  /** The key's limits and budget for this request (checked with the request's estimate, all or nothing). */
  admission?(estimate: RequestEstimate): KeyAdmission | undefined;
}

export interface KeyAdmission {
  buckets: Bucket[];
  /**
   * Which limit a refused bucket is: decides the error (`rate_limit_exceeded` or `insufficient_quota`)
   * and its message; `headers`, when given, are the 429's headers (else `Retry-After` from `retryAfterMs`).
   */
  describe(
    bucket: Bucket,
    retryAfterMs: number,
  ): {
    code: 'rate_limit_exceeded' | 'insufficient_quota';
    message: string;
    headers?: Record<string, string>;
  };
  /** Corrections once the request ended (real usage, or undefined if it never reached a model). */
  settle(usage: RequestUsage | undefined): Adjustment[];
  /** OpenAI-style `x-ratelimit-*` headers from the admission's bucket states. */
  headers?(states: readonly BucketState[]): Record<string, string>;
}

/** What the gateway decided and did for one request. */
export interface ResponseMeta {
  requestId: string;
  /** The model that answered. */
  model: string;
  task: string;
  priority: Priority;
  /** Models that failed before the one that answered. */
  fallbacks: number;
  decision: RouteDecision;
  /** The key's rate-limit headers (`x-ratelimit-*`), when it has limits. */
  rateLimitHeaders?: Record<string, string>;
  /** `hit`: answered from the response cache; `miss`: looked up, then stored. */
  cache?: 'hit' | 'miss';
}

export interface ChatResult {
  completion: ChatCompletion;
  meta: ResponseMeta;
  /** With `deferSummary`: emit the request's summary now (once; later calls do nothing). */
  finish?: () => void;
}

export interface StreamHandle {
  /** Filled in when the first chunk is ready (a stream that fails over updates `model`). */
  meta: ResponseMeta;
  chunks: AsyncIterable<ChatCompletionChunk>;
  /** With `deferSummary`: emit the summary once the chunks have ended and the caller wrote its last bytes. */
  finish?: () => void;
}

export interface EmbeddingsResult {
  response: EmbeddingsResponse;
  model: string;
  requestId: string;
  fallbacks: number;
}

export interface StateStatus {
  shared: boolean;
  degraded: boolean;
  /** Epoch ms when the current degraded spell began. */
  degradedSinceMs: number | undefined;
  /** With admission leases: admissions served on this instance from leased units, and by the store. */
  admissions?: { lease: number; store: number };
}

export type BatchResult = { ok: true; result: ChatResult } | { ok: false; error: GatewayError };

export interface Gateway {
  readonly config: GatewayConfig;
  readonly events: EventBus;
  readonly logger: GatewayLogger;
  readonly health: HealthBoard;
  readonly store: Store;
  chat(request: ChatRequest, options?: RequestOptions): Promise<ChatResult>;
  chatStream(request: ChatRequest, options?: RequestOptions): Promise<StreamHandle>;
  /** The routing decision for a request, without calling any model. */
  route(request: ChatRequest, options?: RequestOptions): RouteDecision | NoRoute;
  embeddings(request: EmbeddingsRequest, options?: RequestOptions): Promise<EmbeddingsResult>;
  /** Many requests with bounded concurrency; one failure never fails the batch. */
  batch(
    requests: ChatRequest[],
    options?: { concurrency?: number; signal?: CancelSignal },
  ): Promise<BatchResult[]>;
  /** Resolves once shared state is reachable (or the gateway decided to start degraded). */
  ready(): Promise<void>;
  /** Whether state is shared (Redis), and whether the gateway is serving on local state now. */
  stateStatus(): StateStatus;
  /** Model names clients may use, including the `auto` aliases. */
  modelNames(): string[];
  /** Every model's state, for observers. */
  modelStatus(): ModelStatus[];
  /** Start active health probes (the server does this; library users may). */
  startHealthChecks(): void;
  /** Take a model out of rotation (false) or put it back (true), for the whole fleet. False: no such model. */
  setInRotation(model: string, inRotation: boolean): Promise<boolean>;
  /** Close a model's breaker now (an operator saw it recover). False: no such model. */
  resetBreaker(model: string): boolean;
  /**
   * A client's score (0..1) of an earlier answer (`POST /v1/feedback`): the bandit's evidence for
   * the request's task and answering model. `clientKeyId` must be the key that made the request;
   * `known`: the request's task and model when the caller has them (its request-log row).
   */
  feedback(
    requestId: string,
    score: number,
    options?: { clientKeyId?: string; known?: FeedbackTarget & { scored: boolean } },
  ): Promise<FeedbackOutcome>;
  /** Runtime control of a simulated model, if `name` is one. */
  simulation(name: string): SimulatedControl | undefined;
  close(): Promise<void>;
}
