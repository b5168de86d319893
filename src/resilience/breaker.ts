/**
 * A circuit breaker per target, on an injected clock, whose phase is shared by a fleet.
 *
 * CLOSED -> OPEN: `failureThreshold` consecutive failures, or a failure rate above
 *   `failureRate` over the rolling window with at least `minRequests` requests.
 * OPEN -> HALF_OPEN: after the recovery timeout, which doubles with each re-open (capped).
 * HALF_OPEN: up to `halfOpenMax` trials, and in a fleet only the instance holding the trial
 *   lease sends them; a success closes, a failure re-opens, for every instance.
 * A success in CLOSED resets the consecutive count (the brief's breaker never did).
 *
 * What a fleet must agree on (phase, when OPEN ends, how often it re-opened) is a
 * `SharedBreakerState` in the store; each instance writes its transitions with compare-and-set
 * and publishes them, and applies the others' as they arrive. The failure counts that lead to
 * a transition stay local. Reading the phase never changes anything: OPEN past its time reads
 * as HALF_OPEN, and a timer reports that transition when it happens.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import { type SharedBreakerState, stateChannels, stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';
import type { Clock } from './clock.ts';

export type BreakerConfig = ModelSpec['breaker'];
export type BreakerPhase = SharedBreakerState['phase'];
export type BreakerTransition = {
  from: BreakerPhase;
  to: BreakerPhase;
  reason: string;
  /** Another instance of the fleet made it. */
  remote?: boolean;
};

const bucketCount = 10;
/** How long a trial lease lasts if its holder never reports (it died). */
const trialLeaseMs = 30_000;

export function closedState(by = ''): SharedBreakerState {
  return { phase: 'closed', openUntil: 0, reopenCount: 0, reason: '', by };
}

/** The phase a shared state has at `now`: OPEN past its time is HALF_OPEN. */
export function phaseAt(state: SharedBreakerState, now: number): BreakerPhase {
  return state.phase === 'open' && now >= state.openUntil ? 'half_open' : state.phase;
}

export interface BreakerDeps {
  clock: Clock;
  store: Store;
  /** This instance's id in the fleet (lease owner, `by` of its transitions). */
  instance: string;
  onTransition: (target: string, transition: BreakerTransition) => void;
  /** A background store write failed (the local view still holds). */
  onStoreError?: (error: unknown) => void;
}

export class CircuitBreaker {
  private view: SharedBreakerState;
  private version = 0;
  private consecutiveFailures = 0;
  /** Rolling window: per-bucket [start, requests, failures]. */
  private readonly buckets: Array<[number, number, number]> = [];
  private trialsInFlight = 0;
  private holdsLease = false;
  private cancelHalfOpenTimer: (() => void) | undefined;

  constructor(
    readonly target: string,
    private readonly config: BreakerConfig,
    private readonly deps: BreakerDeps,
  ) {
    this.view = closedState();
  }

  /** The phase as of now; never changes state. */
  get phase(): BreakerPhase {
    return phaseAt(this.view, this.deps.clock.now());
  }

  get state(): Readonly<SharedBreakerState> {
    return this.view;
  }

  /** Whether a request would be let through now, without reserving anything. */
  wouldAllow(): boolean {
    const phase = this.phase;
    return phase === 'closed' || (phase === 'half_open' && this.trialsInFlight < this.config.halfOpenMax);
  }

  /**
   * Ask to send a request. CLOSED answers at once; HALF_OPEN reserves a trial slot and, for the
   * fleet, the trial lease (only its holder sends trials).
   */
  acquire(): boolean | Promise<boolean> {
    const phase = this.phase;
    if (phase === 'closed') return true;
    if (phase === 'open' || this.trialsInFlight >= this.config.halfOpenMax) return false;
    this.trialsInFlight++;
    if (this.holdsLease) return true;
    return this.deps.store
      .acquireLease(stateKeys.trialLease(this.target), this.deps.instance, trialLeaseMs)
      .then(
        (granted) => {
          this.holdsLease = granted;
          if (!granted) this.trialsInFlight--;
          return granted;
        },
        (error: unknown) => {
          this.deps.onStoreError?.(error);
          return true; // the store is down: this instance decides alone
        },
      );
  }

  /** Give a trial slot back without judging the target (cancelled, or the request's own fault). */
  release(): void {
    if (this.trialsInFlight > 0) this.trialsInFlight--;
  }

  success(): void {
    this.record(false);
    this.consecutiveFailures = 0;
    if (this.phase === 'half_open') {
      if (this.trialsInFlight > 0) this.trialsInFlight--;
      this.buckets.length = 0;
      this.transition({ ...closedState(this.deps.instance), reason: 'trial request succeeded' });
    }
  }

  failure(): void {
    this.record(true);
    this.consecutiveFailures++;
    const phase = this.phase;
    if (phase === 'half_open') {
      if (this.trialsInFlight > 0) this.trialsInFlight--;
      this.open('trial request failed');
      return;
    }
    if (phase !== 'closed') return;
    if (this.consecutiveFailures >= this.config.failureThreshold) {
      this.open(`${this.consecutiveFailures} consecutive failures`);
      return;
    }
    const { requests, failures } = this.windowTotals();
    if (requests >= this.config.minRequests && failures / requests > this.config.failureRate) {
      this.open(`failure rate ${Math.round((failures / requests) * 100)}% over ${requests} requests`);
    }
  }

  /** Close at once (a health probe saw the target recover). */
  forceClose(reason: string): void {
    this.consecutiveFailures = 0;
    this.buckets.length = 0;
    this.trialsInFlight = 0;
    if (this.view.phase !== 'closed') this.transition({ ...closedState(this.deps.instance), reason });
  }

  /** Open at once (e.g. the upstream rejected our key), for at least `forMs` if given. */
  forceOpen(reason: string, forMs?: number): void {
    if (this.phase !== 'open') this.open(reason, forMs);
  }

  /** Another instance's transition (or the store's state after a re-sync). */
  apply(state: SharedBreakerState, version: number): void {
    if (version <= this.version) return;
    const from = this.phase;
    this.version = version;
    this.adopt(state);
    const to = this.phase;
    if (from !== to) this.deps.onTransition(this.target, { from, to, reason: state.reason, remote: true });
  }

  /**
   * Adopt the fleet's state for this target from the store (at start, and after the store
   * recovers). The store's record wins whatever this instance's version says: versions counted
   * during an outage mean nothing to Redis, and a Redis that restarted empty counts from 0 again.
   * With no record, a breaker that is not closed tells the fleet.
   */
  async sync(): Promise<void> {
    const stored = await this.deps.store.getVersioned(stateKeys.breaker(this.target));
    if (stored) {
      this.version = stored.version - 1;
      this.apply(stored.value, stored.version);
      return;
    }
    this.version = 0;
    if (this.view.phase !== 'closed') await this.write(this.view);
  }

  close(): void {
    this.cancelHalfOpenTimer?.();
    this.cancelHalfOpenTimer = undefined;
  }

  private open(reason: string, atLeastMs = 0): void {
    const { recoveryTimeoutMs, maxRecoveryTimeoutMs } = this.config;
    const timeout = Math.max(
      atLeastMs,
      Math.min(
        recoveryTimeoutMs * 2 ** this.view.reopenCount,
        Math.max(maxRecoveryTimeoutMs, recoveryTimeoutMs),
      ),
    );
    this.trialsInFlight = 0;
    this.transition({
      phase: 'open',
      openUntil: this.deps.clock.now() + timeout,
      reopenCount: this.view.reopenCount + 1,
      reason: `${reason}; retry in ${Math.round(timeout / 1000)}s`,
      by: this.deps.instance,
    });
  }

  /** Change the local view now; write it to the store and tell the fleet in the background. */
  private transition(next: SharedBreakerState): void {
    const from = this.phase;
    this.adopt(next);
    const to = this.phase;
    if (from !== to) this.deps.onTransition(this.target, { from, to, reason: next.reason });
    if (next.phase === 'closed' || next.phase === 'open') this.releaseLease();
    void this.write(next).catch((error: unknown) => this.deps.onStoreError?.(error));
  }

  private async write(next: SharedBreakerState): Promise<void> {
    const key = stateKeys.breaker(this.target);
    for (let tries = 0; tries < 3; tries++) {
      const version = await this.deps.store.compareAndSet(key, this.version, next);
      if (version !== undefined) {
        this.version = Math.max(this.version, version);
        await this.deps.store.publish(
          stateChannels.breaker,
          JSON.stringify({ target: this.target, version, state: next }),
        );
        return;
      }
      // Someone else wrote first: take theirs, unless ours is the more severe news.
      const stored = await this.deps.store.getVersioned(key);
      if (!stored) {
        this.version = 0; // the store lost the record (a restarted Redis): write it anew
        continue;
      }
      if (stored.value.phase === next.phase || stored.value.phase === 'open') {
        this.version = stored.version - 1; // below theirs, so that apply adopts it
        this.apply(stored.value, stored.version);
        return;
      }
      this.version = stored.version;
    }
  }

  private adopt(state: SharedBreakerState): void {
    this.view = state;
    this.cancelHalfOpenTimer?.();
    this.cancelHalfOpenTimer = undefined;
    if (state.phase === 'closed') this.consecutiveFailures = 0;
    if (state.phase === 'open') {
      // Report OPEN -> HALF_OPEN when it happens, not when the next request looks.
      const wait = state.openUntil - this.deps.clock.now();
      if (wait > 0) {
        this.cancelHalfOpenTimer = this.deps.clock.schedule(wait, () => {
          this.cancelHalfOpenTimer = undefined;
          if (this.view === state) {
            this.deps.onTransition(this.target, {
              from: 'open',
              to: 'half_open',
              reason: 'recovery timeout passed',
            });
          }
        });
      }
    }
  }

  private releaseLease(): void {
    if (!this.holdsLease) return;
    this.holdsLease = false;
    void this.deps.store
      .releaseLease(stateKeys.trialLease(this.target), this.deps.instance)
      .catch((error: unknown) => this.deps.onStoreError?.(error));
  }

  private record(failed: boolean): void {
    const now = this.deps.clock.now();
    const width = this.config.windowMs / bucketCount;
    const start = Math.floor(now / width) * width;
    const last = this.buckets[this.buckets.length - 1];
    if (last && last[0] === start) {
      last[1]++;
      if (failed) last[2]++;
    } else {
      this.buckets.push([start, 1, failed ? 1 : 0]);
    }
    while (this.buckets.length > 0 && this.buckets[0]![0] <= now - this.config.windowMs) this.buckets.shift();
  }

  private windowTotals(): { requests: number; failures: number } {
    const cutoff = this.deps.clock.now() - this.config.windowMs;
    let requests = 0;
    let failures = 0;
    for (const [start, count, failed] of this.buckets) {
      if (start > cutoff) {
        requests += count;
        failures += failed;
      }
    }
    return { requests, failures };
  }
}
