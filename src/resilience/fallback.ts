/**
 * The fallback chain: visit the targets in order, each through its own policy stack, until one
 * succeeds. A target a policy refuses (breaker open, concurrency limit, rate cap) is skipped
 * without an attempt. After a failure the caller decides: move on, or stop (the request's own
 * fault goes back to the client at once). The chain ends early when the request is cancelled,
 * its deadline passes or its attempt budget is spent.
 */
import { Lifetime, noWork, type Operation, type Policy, TargetSkipped, type WorkMeter } from './policy.ts';
import type { Scope } from './request-scope.ts';

export interface ChainTarget {
  name: string;
  policy: Policy;
}

/** A successful attempt; its resources are held until `lifetime` ends (the caller ends it). */
export interface Opened<T> {
  value: T;
  target: string;
  lifetime: Lifetime;
}

export interface ChainOptions {
  /** `stop`: give this failure to the caller now; `next`: try the next target. */
  afterFailure(error: unknown, target: string): 'stop' | 'next';
  /** A reason to leave this target out, given what failed so far (e.g. its context window is too small). */
  skip?(target: string): string | undefined;
  /** Attempts on this chain run on a hedge branch. */
  hedge?: boolean;
  /** The request's expected work, for rate limits. */
  meter?: WorkMeter;
}

/** Every target failed or was skipped. */
export class ChainExhausted extends Error {
  constructor(
    readonly failures: unknown[],
    readonly skipped: TargetSkipped[],
    readonly deadlineHit: boolean,
  ) {
    super('every target failed');
    this.name = 'ChainExhausted';
  }
}

export async function runChain<T>(
  targets: readonly ChainTarget[],
  operation: Operation<T>,
  scope: Scope,
  options: ChainOptions,
): Promise<Opened<T>> {
  const failures: unknown[] = [];
  const skipped: TargetSkipped[] = [];
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    if (scope.signal.aborted || !scope.attempts.available()) break;
    const reason = options.skip?.(target.name);
    if (reason !== undefined) {
      skipped.push(new TargetSkipped(target.name, reason));
      continue;
    }
    const lifetime = new Lifetime();
    try {
      const value = await target.policy.execute(operation, {
        target: target.name,
        signal: scope.signal,
        deadline: scope.deadline,
        attempt: 0,
        hedge: options.hedge === true,
        isLast: index === targets.length - 1,
        lifetime,
        budget: scope.attempts,
        meter: options.meter ?? noWork,
      });
      return { value, target: target.name, lifetime };
    } catch (error) {
      lifetime.end(error);
      if (error instanceof TargetSkipped) {
        skipped.push(error);
        continue;
      }
      if (scope.signal.aborted && !scope.deadlineHit) throw error; // cancelled: nobody to answer
      failures.push(error);
      if (options.afterFailure(error, target.name) === 'stop') throw error;
    }
  }
  throw new ChainExhausted(failures, skipped, scope.deadlineHit);
}
