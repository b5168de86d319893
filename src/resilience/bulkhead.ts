/**
 * A per-model concurrency limit with a bounded FIFO queue. When both are full the caller moves
 * on to the next model instead of waiting: overflow is a routing decision, not a stall.
 */

import type { CancelSignal } from '../lib/cancel.ts';
import { type AttemptContext, holding, type Operation, type Policy, TargetSkipped } from './policy.ts';

export class Bulkhead {
  private active = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(
    readonly limit: number,
    readonly queueLimit: number,
  ) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Take a slot: at once if one is free, else after queueing (if the queue has room).
   * Resolves false when the queue is full or the signal aborts while waiting.
   */
  acquire(signal: CancelSignal): Promise<boolean> | boolean {
    if (this.active < this.limit) {
      this.active++;
      return true;
    }
    if (this.waiting.length >= this.queueLimit || signal.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      };
      const grant = (granted: boolean) => {
        signal.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  /** Give the slot back; the longest waiter gets it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next(true);
    else if (this.active > 0) this.active--;
  }
}

const atLimit = (context: AttemptContext) => new TargetSkipped(context.target, 'at its concurrency limit');

/** The bulkhead around one target: a slot held across its retries, and by a stream until it ends. */
export class BulkheadPolicy implements Policy {
  constructor(private readonly bulkhead: Bulkhead) {}

  // Not `async`: with a free slot (the common case) the attempt's own promise is returned as is.
  // An async function returning a promise costs two more microtask turns and a promise.
  execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
    try {
      const slot = this.bulkhead.acquire(context.signal);
      const release = () => this.bulkhead.release();
      if (slot === true) return holding(operation, context, release);
      if (slot === false) return Promise.reject(atLimit(context));
      return slot.then((granted) => {
        if (!granted) throw atLimit(context);
        return holding(operation, context, release);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
