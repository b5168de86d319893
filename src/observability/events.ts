/**
 * What the gateway reports about its own work. The request path emits these; metrics, the
 * request log and the dashboard subscribe. Emitting must stay cheap: sinks batch their own I/O.
 */
import type { FailureKind } from '../errors.ts';
import type { BreakerTransition } from '../resilience/breaker.ts';

export interface AttemptRecord {
  /** Wall-clock ms when the attempt started. */
  startedAt?: number;
  model: string;
  provider: string;
  outcome: 'success' | FailureKind;
  status?: number;
  message?: string;
  latencyMs: number;
  /** A hedge that was started alongside the primary. */
  hedge?: boolean;
}

/** Tokens and spend of one model within a request (a stream that failed over has two). */
export interface ModelUsage {
  model: string;
  provider: string;
  promptTokens: number;
  completionTokens: number;
  /** Of the prompt tokens, read from the provider's prompt cache. */
  cachedTokens: number;
  /** Of the prompt tokens, written to the cache. */
  cacheWriteTokens: number;
  costUsd: number;
  /** Counted with the gateway's tokenizer because the upstream sent no usage. */
  estimated: boolean;
}

/** One candidate's score in a routing decision: normalised 0..1 components (higher is better). */
export interface CandidateScore {
  model: string;
  score: number;
  match: number;
  health: number;
  cost: number;
  speed: number;
  quality: number;
  /** The learned router's P(a good answer), when it scored the request. */
  predicted?: number;
}

/** What the router weighed: every scored candidate, every excluded model and why, the chain it built. */
export interface DecisionCandidates {
  /** The primary, then its fallbacks, in order. */
  primary: string;
  fallbacks: readonly string[];
  scored: readonly CandidateScore[];
  excluded: ReadonlyArray<{ model: string; reason: string }>;
}

/** Which client API the request came in through. */
export type FrontDoor = 'chat' | 'messages' | 'responses' | 'embeddings';

export interface RequestSummary {
  requestId: string;
  /** The front door: Chat Completions, Anthropic Messages, OpenAI Responses, embeddings. */
  api: FrontDoor;
  /** Wall-clock ms. */
  startedAt: number;
  clientKeyId: string | undefined;
  /** The client's own `x-request-id`, kept apart (our id is always minted by us). */
  clientRequestId?: string;
  stream: boolean;
  requestedModel: string;
  task: string | undefined;
  priority: string | undefined;
  /** The model that answered (undefined when none did). */
  model: string | undefined;
  attempts: AttemptRecord[];
  /** Distinct models that failed before the answering one. */
  fallbacks: number;
  retries: number;
  latencyMs: number;
  ttftMs: number | undefined;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** Usage was counted with our tokenizer because the upstream sent none. */
  usageEstimated: boolean;
  /** Per model that delivered part of the answer (what was billed, even when the request failed later). */
  usage: ModelUsage[];
  /** Answered from the response cache (`hit`, at no cost), or looked up and stored (`miss`). */
  cache?: 'hit' | 'miss';
  status: number;
  errorCode: string | undefined;
  errorMessage: string | undefined;
  reason: string | undefined;
  /** The custom routing rule that matched, if one did. */
  rule?: string;
  /** The routing decision's candidates (absent when the request never got a decision). */
  candidates?: DecisionCandidates;
  /** Prompt and answer, only when `log_content` is on. */
  content?: { request: unknown; response: string };
}

/** A model's state as observers (stats, metrics, dashboard, readiness) see it. */
export interface ModelStatus {
  model: string;
  provider: string;
  breaker: 'closed' | 'open' | 'half_open';
  healthy: boolean;
  /** EWMA success rate 0..1, 0 while the breaker is open. */
  healthScore: number;
  inFlight: number;
  latencyMs: number | undefined;
  /** False while an operator has it out of rotation. */
  inRotation: boolean;
}

/** Where observers read every model's current state. */
export interface ModelStatusSource {
  modelStatus(): ModelStatus[];
}

/**
 * Tracing, as the gateway calls it: one span per request and a child per upstream attempt. The
 * default does nothing and allocates nothing; `observability/otel.ts` exports spans over OTLP.
 */
export interface RequestTracer {
  /** A request starts. `traceparent`: the client's W3C header, continued when valid. */
  startRequest(info: {
    requestId: string;
    api: FrontDoor;
    requestedModel: string;
    stream: boolean;
    traceparent: string | undefined;
    startedAt: number;
  }): RequestSpan;
}

export interface RequestSpan {
  /** An upstream attempt starts; its `traceparent` is sent upstream. */
  startAttempt(info: {
    model: string;
    provider: string;
    upstreamModel: string;
    attempt: number;
    hedge: boolean;
  }): AttemptSpan;
  /** The request ended: everything the summary holds (decision, usage, cost, status, content when logged). */
  end(summary: RequestSummary, finishReasons: readonly string[]): void;
}

export interface AttemptSpan {
  /** W3C traceparent for the upstream call, if tracing is on. */
  readonly traceparent: string | undefined;
  end(record: AttemptRecord): void;
}

const noAttemptSpan: AttemptSpan = { traceparent: undefined, end: () => {} };
const noRequestSpan: RequestSpan = { startAttempt: () => noAttemptSpan, end: () => {} };
/** The tracer when tracing is off: free. */
export const noTracer: RequestTracer = { startRequest: () => noRequestSpan };

export interface GatewayEvents {
  attempt(requestId: string, record: AttemptRecord): void;
  requestFinished(summary: RequestSummary): void;
  breakerTransition(model: string, transition: BreakerTransition): void;
  inFlight(model: string, delta: number): void;
}

/** Fan one event out to many sinks; a failing sink never breaks the request path. */
export class EventBus implements GatewayEvents {
  private readonly sinks: Partial<GatewayEvents>[] = [];
  constructor(private readonly onSinkError: (error: unknown) => void = () => {}) {}

  subscribe(sink: Partial<GatewayEvents>): () => void {
    this.sinks.push(sink);
    return () => {
      const index = this.sinks.indexOf(sink);
      if (index >= 0) this.sinks.splice(index, 1);
    };
  }

  attempt(requestId: string, record: AttemptRecord): void {
    for (const sink of this.sinks) this.safely(() => sink.attempt?.(requestId, record));
  }
  requestFinished(summary: RequestSummary): void {
    for (const sink of this.sinks) this.safely(() => sink.requestFinished?.(summary));
  }
  breakerTransition(model: string, transition: BreakerTransition): void {
    for (const sink of this.sinks) this.safely(() => sink.breakerTransition?.(model, transition));
  }
  inFlight(model: string, delta: number): void {
    for (const sink of this.sinks) this.safely(() => sink.inFlight?.(model, delta));
  }

  private safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.onSinkError(error);
    }
  }
}
