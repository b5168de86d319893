/**
 * Resilience as small composable policies around any call (cockatiel's shape): a `Policy` runs
 * an `Operation` with an `AttemptContext`; `wrap(a, b, c)` composes them, outermost first.
 * Nothing here knows what is being called: a target is just a name.
 *
 * A successful attempt may keep resources after its operation returned (a stream being read
 * holds its concurrency slot, its in-flight count and its total timeout). Such resources are
 * deferred to the attempt's `Lifetime`, which whoever consumes the result ends: at once for a
 * plain call, when the stream ends for a stream. Ending it with a failure tells every policy
 * how the attempt really ended (a stream that fails midway counts against the breaker then).
 */

import type { CancelSignal } from '../lib/cancel.ts';
import type { AdmittedAhead } from './limiter.ts';

/** Runs deferred clean-ups once, newest first, with the attempt's final failure (or undefined). */
export class Lifetime {
  private readonly deferred: Array<(failure: unknown) => void> = [];
  private ended = false;

  /** Run `callback` when the lifetime ends (at once if it already has). */
  defer(callback: (failure: unknown) => void): void {
    if (this.ended) callback(undefined);
    else this.deferred.push(callback);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  end(failure?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    for (let i = this.deferred.length - 1; i >= 0; i--) this.deferred[i]!(failure);
    this.deferred.length = 0;
  }
}

/** What one attempt may use. */
export interface AttemptContext {
  /** The target this attempt calls (a model name). */
  readonly target: string;
  /** Aborted when this attempt must stop (client gone, deadline, hedge lost, attempt timeout). */
  readonly signal: CancelSignal;
  /** Clock ms by which the whole request must be over. */
  readonly deadline: number;
  /** 0 for the first attempt on this target. */
  readonly attempt: number;
  /** This attempt runs on a hedge branch. */
  readonly hedge: boolean;
  /** No other target follows this one in the chain. */
  readonly isLast: boolean;
  /** Where resources a successful attempt keeps are released. Shared by the attempts on one target. */
  readonly lifetime: Lifetime;
  /** The request's attempt budget: asked before another attempt starts, charged by each one. */
  readonly budget: AttemptBudget;
  /** The work (tokens) the request is expected to cost, for rate limits. */
  readonly meter: WorkMeter;
}

/** Units of work a request is expected to cost, and what one target's attempt really cost once known. */
export interface WorkMeter {
  readonly estimate: number;
  actual(target: string): number | undefined;
  /** Admissions already taken for this request (with its client key's, in one store call). */
  readonly ahead?: AdmittedAhead;
}

export const noWork: WorkMeter = { estimate: 0, actual: () => undefined };

/** How many more upstream attempts a request (or one hedge branch of it) may make. */
export interface AttemptBudget {
  available(): boolean;
  take(): void;
}

export type Operation<T> = (context: AttemptContext) => Promise<T>;

export interface Policy {
  execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T>;
}

/**
 * Compose policies, outermost first: `wrap(bulkhead, retry, breaker, timeout)` takes the slot
 * once, retries inside it, asks the breaker before every attempt, and times each one.
 */
export function wrap(...policies: Policy[]): Policy {
  return {
    execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
      let run = operation;
      for (let i = policies.length - 1; i >= 0; i--) {
        const policy = policies[i]!;
        const inner = run;
        run = (attemptContext) => policy.execute(inner, attemptContext);
      }
      return run(context);
    },
  };
}

/** A policy that refuses a target without calling it: the chain skips to the next one. */
export class TargetSkipped extends Error {
  constructor(
    readonly target: string,
    readonly reason: string,
    /** When the target may be worth asking again (ms from now), if known. */
    readonly retryAfterMs?: number,
  ) {
    super(`${target}: ${reason}`);
    this.name = 'TargetSkipped';
  }
}

/** Hold `release` until the attempt's lifetime ends if the operation succeeds; release at once if it fails. */
export async function holding<T>(
  operation: Operation<T>,
  context: AttemptContext,
  release: (failure: unknown) => void,
): Promise<T> {
  let value: T;
  try {
    value = await operation(context);
  } catch (error) {
    release(error);
    throw error;
  }
  context.lifetime.defer(release);
  return value;
}
