/**
 * What the gateway reports about its own work. The request path emits these; metrics, the
 * request log and the dashboard subscribe. Emitting must stay cheap: sinks batch their own I/O.
 */
import type { FailureKind } from '../errors.ts';
import type { BreakerTransition } from '../resilience/breaker.ts';

export interface AttemptRecord {
  model: string;
  provider: string;
  outcome: 'success' | FailureKind;
  status?: number;
  message?: string;
  latencyMs: number;
  /** A hedge that was started alongside the primary. */
  hedge?: boolean;
}

export interface RequestSummary {
  requestId: string;
  /** Wall-clock ms. */
  startedAt: number;
  clientKeyId: string | undefined;
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
  status: number;
  errorCode: string | undefined;
  errorMessage: string | undefined;
  reason: string | undefined;
  /** Prompt and answer, only when `log_content` is on. */
  content?: { request: unknown; response: string };
}

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
