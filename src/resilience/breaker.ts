/**
 * A circuit breaker as a small state machine over an injected clock. Its state is a plain
 * object (`BreakerState`), so it can live in a shared store.
 *
 * CLOSED -> OPEN: `failureThreshold` consecutive failures, or a failure rate above
 *   `failureRate` over the rolling window with at least `minRequests` requests.
 * OPEN -> HALF_OPEN: after the recovery timeout, which doubles with each re-open (capped).
 * HALF_OPEN: up to `halfOpenMax` trial requests; a success closes, a failure re-opens.
 * A success in CLOSED resets the consecutive count (the brief's breaker never did).
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { BreakerState as BreakerPhase } from '../routing/types.ts';

export type BreakerConfig = ModelSpec['breaker'];

const bucketCount = 10;

export interface BreakerState {
  phase: BreakerPhase;
  consecutiveFailures: number;
  /** When OPEN ends (ms on the breaker's clock). */
  openUntil: number;
  /** How many times in a row it opened without a successful trial (grows the timeout). */
  reopenCount: number;
  trialsInFlight: number;
  /** Rolling window: per-bucket [start, requests, failures]. */
  buckets: Array<[number, number, number]>;
}

export function initialBreakerState(): BreakerState {
  return {
    phase: 'closed',
    consecutiveFailures: 0,
    openUntil: 0,
    reopenCount: 0,
    trialsInFlight: 0,
    buckets: [],
  };
}

export type BreakerTransition = { from: BreakerPhase; to: BreakerPhase; reason: string };

export class CircuitBreaker {
  private state: BreakerState;

  constructor(
    private readonly config: BreakerConfig,
    private readonly now: () => number,
    private readonly onTransition: (transition: BreakerTransition) => void = () => {},
    state: BreakerState = initialBreakerState(),
  ) {
    this.state = state;
  }

  /** The phase as of now (OPEN becomes HALF_OPEN once its timeout has passed). */
  get phase(): BreakerPhase {
    if (this.state.phase === 'open' && this.now() >= this.state.openUntil) {
      this.move('half_open', 'recovery timeout passed');
    }
    return this.state.phase;
  }

  snapshot(): Readonly<BreakerState> {
    return this.state;
  }

  /** Ask to send a request. In HALF_OPEN this reserves one of the trial slots. */
  tryAcquire(): boolean {
    const phase = this.phase;
    if (phase === 'closed') return true;
    if (phase === 'open') return false;
    if (this.state.trialsInFlight >= this.config.halfOpenMax) return false;
    this.state.trialsInFlight++;
    return true;
  }

  /** Whether a request would be let through now, without reserving anything. */
  wouldAllow(): boolean {
    const phase = this.phase;
    return (
      phase === 'closed' || (phase === 'half_open' && this.state.trialsInFlight < this.config.halfOpenMax)
    );
  }

  /** Release a trial slot without judging the model (the call was cancelled or was the client's fault). */
  release(): void {
    if (this.state.phase === 'half_open' && this.state.trialsInFlight > 0) this.state.trialsInFlight--;
  }

  success(): void {
    this.record(false);
    this.state.consecutiveFailures = 0;
    if (this.state.phase === 'half_open') {
      this.state.trialsInFlight = Math.max(0, this.state.trialsInFlight - 1);
      this.state.reopenCount = 0;
      this.state.buckets = [];
      this.move('closed', 'trial request succeeded');
    }
  }

  failure(): void {
    this.record(true);
    this.state.consecutiveFailures++;
    const phase = this.state.phase;
    if (phase === 'half_open') {
      this.state.trialsInFlight = Math.max(0, this.state.trialsInFlight - 1);
      this.open('trial request failed');
      return;
    }
    if (phase !== 'closed') return;
    if (this.state.consecutiveFailures >= this.config.failureThreshold) {
      this.open(`${this.state.consecutiveFailures} consecutive failures`);
      return;
    }
    const { requests, failures } = this.windowTotals();
    if (requests >= this.config.minRequests && failures / requests > this.config.failureRate) {
      this.open(`failure rate ${Math.round((failures / requests) * 100)}% over ${requests} requests`);
    }
  }

  /** Close at once (a health probe saw the model recover). */
  forceClose(reason: string): void {
    this.state.consecutiveFailures = 0;
    this.state.reopenCount = 0;
    this.state.trialsInFlight = 0;
    this.state.buckets = [];
    if (this.state.phase !== 'closed') this.move('closed', reason);
  }

  /** Open at once (e.g. the upstream rejected our key). */
  forceOpen(reason: string): void {
    if (this.state.phase !== 'open') this.open(reason);
  }

  private open(reason: string): void {
    const timeout = Math.min(
      this.config.recoveryTimeoutMs * 2 ** this.state.reopenCount,
      Math.max(this.config.maxRecoveryTimeoutMs, this.config.recoveryTimeoutMs),
    );
    this.state.reopenCount++;
    this.state.openUntil = this.now() + timeout;
    this.state.trialsInFlight = 0;
    this.move('open', `${reason}; retry in ${Math.round(timeout / 1000)}s`);
  }

  private move(to: BreakerPhase, reason: string): void {
    const from = this.state.phase;
    if (from === to) return;
    this.state.phase = to;
    this.onTransition({ from, to, reason });
  }

  private record(failed: boolean): void {
    const now = this.now();
    const width = this.config.windowMs / bucketCount;
    const start = Math.floor(now / width) * width;
    const buckets = this.state.buckets;
    const last = buckets[buckets.length - 1];
    if (last && last[0] === start) {
      last[1]++;
      if (failed) last[2]++;
    } else {
      buckets.push([start, 1, failed ? 1 : 0]);
    }
    while (buckets.length > 0 && buckets[0]![0] <= now - this.config.windowMs) buckets.shift();
  }

  private windowTotals(): { requests: number; failures: number } {
    const cutoff = this.now() - this.config.windowMs;
    let requests = 0;
    let failures = 0;
    for (const [start, count, failed] of this.state.buckets) {
      if (start > cutoff) {
        requests += count;
        failures += failed;
      }
    }
    return { requests, failures };
  }
}
