/**
 * Time, injected. Production code never calls Date.now() or setTimeout directly in the
 * resilience and routing paths, so tests and the simulator can run on virtual time.
 */
import type { CancelSignal } from '../lib/cancel.ts';
export interface Clock {
  /** Milliseconds since an arbitrary epoch (monotonic within one clock). */
  now(): number;
  /** Resolve after `ms`; reject with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: CancelSignal): Promise<void>;
  /**
   * Call `callback` after `ms`; returns a function that cancels it. Cheaper than `sleep` with an
   * AbortController where nothing awaits the timer (deadlines, timeouts on the hot path).
   */
  schedule(ms: number, callback: () => void): () => void;
}

/** Read once: the getter costs a third of a `now()`, which runs about a dozen times per request. */
const timeOrigin = performance.timeOrigin;

export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
  schedule(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
  sleep(ms, signal) {
    return ms <= 0 && !signal?.aborted ? Promise.resolve() : sleepVia(this, ms, signal);
  },
};

/** `sleep` in terms of `schedule`: one implementation of the abort handling for every clock. */
function sleepVia(
  clock: Pick<Clock, 'schedule'>,
  ms: number,
  signal: CancelSignal | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told. `advance(ms)` fires every sleeper due in order, letting
 * promise chains run between them, so code under test sees time pass exactly as it would.
 */
export class VirtualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  private seq = 0;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: CancelSignal): Promise<void> {
    return sleepVia(this, ms, signal);
  }

  schedule(ms: number, callback: () => void): () => void {
    const sleeper: Sleeper = { at: this.current + Math.max(0, ms), seq: this.seq++, resolve: callback };
    this.insert(sleeper);
    return () => {
      const index = this.sleepers.indexOf(sleeper);
      if (index >= 0) this.sleepers.splice(index, 1);
    };
  }

  /** Number of pending sleepers (useful to wait until code under test has gone to sleep). */
  get pending(): number {
    return this.sleepers.length;
  }

  /** The time of the next pending sleeper, if any. */
  nextWakeAt(): number | undefined {
    return this.sleepers[0]?.at;
  }

  /** Move time forward by `ms`, waking sleepers in time order. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await flushMicrotasks();
      const next = this.sleepers[0];
      if (!next || next.at > target) break;
      this.sleepers.shift();
      this.current = Math.max(this.current, next.at);
      next.resolve();
    }
    this.current = Math.max(this.current, target);
    await flushMicrotasks();
  }

  private insert(sleeper: Sleeper): void {
    // Keep sorted by (at, seq); sleepers are few, so a linear insert is fine.
    let i = this.sleepers.length;
    while (i > 0) {
      const before = this.sleepers[i - 1]!;
      if (before.at < sleeper.at || (before.at === sleeper.at && before.seq < sleeper.seq)) break;
      i--;
    }
    this.sleepers.splice(i, 0, sleeper);
  }
}

/**
 * Let every pending promise continuation run: setImmediate fires only once the microtask queue
 * is empty, so however deep the chains, code under test has settled (or gone to sleep) after it.
 */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
