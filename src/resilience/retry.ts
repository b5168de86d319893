/**
 * Retry on the same target. What to do after each failure is the failure plan's call
 * (`failure-plan.ts`: retry after a delay, move on, or stop); this policy only carries it out,
 * within the request's attempt budget and deadline. A skipped target is never retried here.
 */
import type { Clock } from './clock.ts';
import type { FailurePlan } from './failure-plan.ts';
import { type AttemptContext, type Operation, type Policy, TargetSkipped } from './policy.ts';

export type PlanFailure = (error: unknown, context: AttemptContext) => FailurePlan;

export class RetryPolicy implements Policy {
  constructor(
    private readonly clock: Clock,
    private readonly plan: PlanFailure,
  ) {}

  async execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
    let previous: unknown;
    for (let attempt = 0; ; attempt++) {
      const attemptContext = attempt === 0 ? context : { ...context, attempt };
      try {
        return await operation(attemptContext);
      } catch (error) {
        // Refused before a retry (e.g. the breaker opened on the failure before): that failure stands.
        if (error instanceof TargetSkipped) throw attempt > 0 ? previous : error;
        previous = error;
        const plan = this.plan(error, attemptContext);
        if (plan.action !== 'retry' || context.signal.aborted || !context.budget.available()) throw error;
        try {
          await this.clock.sleep(plan.delayMs, context.signal);
        } catch {
          throw error; // cancelled while waiting: the failure stands
        }
      }
    }
  }
}
