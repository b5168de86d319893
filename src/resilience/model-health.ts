/**
 * Live state per model: breaker, passive health from traffic (EWMA latency, success rate),
 * bad-key marks, in-flight count, and rate-limit budget (configured rpm/tpm and the upstream's
 * x-ratelimit-remaining-* headers). It produces the routing core's HealthSnapshot.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { HealthSnapshot, ModelHealth } from '../routing/types.ts';
import { type BreakerTransition, CircuitBreaker } from './breaker.ts';
import type { Clock } from './clock.ts';
import { LatencyWindow } from './latency-window.ts';

const ewmaAlpha = 0.2;

export interface ModelRuntime {
  readonly spec: ModelSpec;
  readonly breaker: CircuitBreaker;
  /** EWMA of time to first byte/token, ms. */
  latencyMs: number | undefined;
  /** Recent latencies, for the quantile the hedge delay uses. */
  readonly recentLatency: LatencyWindow;
  /** EWMA of success (1) / failure (0). */
  successRate: number;
  /** Marked unhealthy until this time (bad key, failed probe). */
  unhealthyUntil: number;
  unhealthyReason: string | undefined;
  inFlight: number;
  /** Requests and tokens in the current minute. */
  minuteStart: number;
  minuteRequests: number;
  minuteTokens: number;
  /** From x-ratelimit-remaining-requests / -tokens, with the time they were seen. */
  upstreamRemainingRequests: number | undefined;
  upstreamRemainingTokens: number | undefined;
  upstreamResetAt: number;
  /** After a 429: the model is saturated until then (the router prefers others). */
  rateLimitedUntil: number;
}

export class ModelHealthRegistry implements HealthSnapshot {
  private readonly runtimes = new Map<string, ModelRuntime>();

  constructor(
    specs: readonly ModelSpec[],
    private readonly clock: Clock,
    onBreakerTransition: (model: string, transition: BreakerTransition) => void = () => {},
  ) {
    for (const spec of specs) {
      this.runtimes.set(spec.name, {
        spec,
        breaker: new CircuitBreaker(
          spec.breaker,
          () => clock.now(),
          (transition) => onBreakerTransition(spec.name, transition),
        ),
        latencyMs: undefined,
        recentLatency: new LatencyWindow(),
        successRate: 1,
        unhealthyUntil: 0,
        unhealthyReason: undefined,
        inFlight: 0,
        minuteStart: clock.now(),
        minuteRequests: 0,
        minuteTokens: 0,
        upstreamRemainingRequests: undefined,
        upstreamRemainingTokens: undefined,
        upstreamResetAt: 0,
        rateLimitedUntil: 0,
      });
    }
  }

  runtime(model: string): ModelRuntime | undefined {
    return this.runtimes.get(model);
  }

  all(): IterableIterator<ModelRuntime> {
    return this.runtimes.values();
  }

  /** The routing core's view of one model. */
  get(model: string): ModelHealth | undefined {
    const runtime = this.runtimes.get(model);
    if (!runtime) return undefined;
    const now = this.clock.now();
    return {
      breaker: runtime.breaker.phase,
      healthy: runtime.unhealthyUntil <= now && runtime.successRate >= 0.5,
      latencyMs: runtime.latencyMs,
      saturated: this.isSaturated(runtime, now),
    };
  }

  /** Count a request against the model's rpm budget as it starts. */
  begin(model: string, promptTokens: number): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    this.rollMinute(runtime);
    runtime.inFlight++;
    runtime.minuteRequests++;
    runtime.minuteTokens += promptTokens;
  }

  end(model: string): void {
    const runtime = this.runtimes.get(model);
    if (runtime && runtime.inFlight > 0) runtime.inFlight--;
  }

  recordSuccess(model: string, latencyMs: number, outputTokens = 0): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    runtime.latencyMs =
      runtime.latencyMs === undefined
        ? latencyMs
        : runtime.latencyMs + ewmaAlpha * (latencyMs - runtime.latencyMs);
    runtime.recentLatency.record(latencyMs);
    runtime.successRate += ewmaAlpha * (1 - runtime.successRate);
    runtime.minuteTokens += outputTokens;
    runtime.breaker.success();
  }

  /** Called when a model turns degraded (so an active probe can look at once). */
  onDegraded: (model: string) => void = () => {};

  /** Output tokens count against the model's tpm budget. */
  recordTokens(model: string, tokens: number): void {
    const runtime = this.runtimes.get(model);
    if (runtime) runtime.minuteTokens += tokens;
  }

  recordFailure(model: string, latencyMs?: number): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    const wasHealthy = runtime.successRate >= 0.5;
    runtime.successRate += ewmaAlpha * (0 - runtime.successRate);
    if (wasHealthy && runtime.successRate < 0.5) this.onDegraded(model);
    // A timeout is latency information too: the model is at least this slow now.
    if (latencyMs !== undefined && runtime.latencyMs !== undefined && latencyMs > runtime.latencyMs) {
      runtime.latencyMs += ewmaAlpha * (latencyMs - runtime.latencyMs);
    }
    runtime.breaker.failure();
  }

  /** A bad key or a failed probe: keep the model out of rotation for a while. */
  markUnhealthy(model: string, reason: string, forMs: number): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    runtime.unhealthyUntil = this.clock.now() + forMs;
    runtime.unhealthyReason = reason;
    runtime.breaker.forceOpen(reason);
  }

  markHealthy(model: string, reason: string): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    runtime.unhealthyUntil = 0;
    runtime.unhealthyReason = undefined;
    runtime.successRate = Math.max(runtime.successRate, 0.8);
    runtime.breaker.forceClose(reason);
  }

  /** Remember the upstream's own view of our remaining budget. */
  observeRateLimitHeaders(model: string, headers: Record<string, string>): void {
    const runtime = this.runtimes.get(model);
    if (!runtime) return;
    const requests =
      headers['x-ratelimit-remaining-requests'] ?? headers['anthropic-ratelimit-requests-remaining'];
    const tokens = headers['x-ratelimit-remaining-tokens'] ?? headers['anthropic-ratelimit-tokens-remaining'];
    if (requests !== undefined) runtime.upstreamRemainingRequests = Number(requests);
    if (tokens !== undefined) runtime.upstreamRemainingTokens = Number(tokens);
    if (requests !== undefined || tokens !== undefined) runtime.upstreamResetAt = this.clock.now() + 60_000;
  }

  /** A 429 said when to come back: until then the model counts as saturated. */
  observeRetryAfter(model: string, retryAfterMs: number): void {
    const runtime = this.runtimes.get(model);
    if (runtime)
      runtime.rateLimitedUntil = Math.max(runtime.rateLimitedUntil, this.clock.now() + retryAfterMs);
  }

  private rollMinute(runtime: ModelRuntime): void {
    const now = this.clock.now();
    if (now - runtime.minuteStart >= 60_000) {
      runtime.minuteStart = now;
      runtime.minuteRequests = 0;
      runtime.minuteTokens = 0;
    }
  }

  private isSaturated(runtime: ModelRuntime, now: number): boolean {
    const { spec } = runtime;
    if (spec.maxConcurrency !== undefined && runtime.inFlight >= spec.maxConcurrency) return true;
    if (now < runtime.rateLimitedUntil) return true;
    const inMinute = now - runtime.minuteStart < 60_000;
    // Leave a 10% margin: avoid the model before it would 429.
    if (inMinute && spec.rpm !== undefined && runtime.minuteRequests >= spec.rpm * 0.9) return true;
    if (inMinute && spec.tpm !== undefined && runtime.minuteTokens >= spec.tpm * 0.9) return true;
    if (now < runtime.upstreamResetAt) {
      if (runtime.upstreamRemainingRequests !== undefined && runtime.upstreamRemainingRequests <= 1)
        return true;
      if (runtime.upstreamRemainingTokens !== undefined && runtime.upstreamRemainingTokens <= 500)
        return true;
    }
    return false;
  }
}
