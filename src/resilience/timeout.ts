/**
 * Per-attempt timeout: each attempt gets its own signal (so a failed attempt's socket is released
 * at once, and an async iterator blocked in next() can be ended), aborted with
 * `abortReasons.attemptTimeout` after the attempt's total time or at the request deadline.
 * A successful attempt keeps its timer until its lifetime ends (a stream is bounded too).
 */
import { abortReasons } from '../errors.ts';
import { Cancellation } from '../lib/cancel.ts';
import type { Clock } from './clock.ts';
import type { AttemptContext, Operation, Policy } from './policy.ts';

export class TimeoutPolicy implements Policy {
  constructor(
    private readonly clock: Clock,
    /** The attempt's total time, ms. */
    private readonly totalMs: (context: AttemptContext) => number,
  ) {}

  async execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
    const controller = new Cancellation();
    const parent = context.signal;
    const onParentAbort = () => controller.abort(parent.reason);
    if (parent.aborted) controller.abort(parent.reason);
    else parent.addEventListener('abort', onParentAbort, { once: true });
    const remaining = Math.max(1, context.deadline - this.clock.now());
    const cancelTimer = this.clock.schedule(Math.min(this.totalMs(context), remaining), () =>
      controller.abort(abortReasons.attemptTimeout),
    );
    const release = () => {
      cancelTimer();
      parent.removeEventListener('abort', onParentAbort);
    };
    try {
      const value = await operation({ ...context, signal: controller });
      context.lifetime.defer((failure) => {
        // An attempt that ends badly (a stream cut, a hedge that lost) stops its I/O too.
        if (failure !== undefined && !controller.aborted) controller.abort(abortReasons.attemptFailed);
        release();
      });
      return value;
    } catch (error) {
      // Stop whatever the attempt left running (a body being read) before moving on.
      if (!controller.aborted) controller.abort(abortReasons.attemptFailed);
      release();
      throw error;
    }
  }
}
