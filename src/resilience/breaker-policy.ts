/**
 * The breaker around one target's attempts: refuse while OPEN (the chain skips the target),
 * let trials through while HALF_OPEN, and judge how each attempt ended. A stream counts as a
 * success when its operation returns (its first token: the target proved it works now) and as
 * a failure if it breaks later, when its lifetime ends with that failure.
 */
import type { CircuitBreaker } from './breaker.ts';
import { type AttemptContext, type Operation, type Policy, TargetSkipped } from './policy.ts';

export class BreakerPolicy implements Policy {
  constructor(
    private readonly breaker: CircuitBreaker,
    /** Whether a failure says something about the target (the request's own faults and cancellations do not). */
    private readonly countsAgainstTarget: (error: unknown) => boolean,
  ) {}

  async execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
    const allowed = this.breaker.acquire();
    if (!(allowed === true || (allowed !== false && (await allowed)))) {
      throw new TargetSkipped(context.target, `circuit breaker ${this.breaker.phase.replace('_', '-')}`);
    }
    let value: T;
    try {
      value = await operation(context);
    } catch (error) {
      this.judge(error);
      throw error;
    }
    this.breaker.success();
    context.lifetime.defer((failure) => {
      if (failure !== undefined && this.countsAgainstTarget(failure)) this.breaker.failure();
    });
    return value;
  }

  private judge(error: unknown): void {
    if (error instanceof TargetSkipped) this.breaker.release();
    else if (this.countsAgainstTarget(error)) this.breaker.failure();
    else this.breaker.release();
  }
}
