/**
 * One request's scope: the client's signal joined with the request deadline, the attempt budget
 * shared by every attempt and branch, and branches (the two sides of a hedge) that can be
 * cancelled on their own. Timers go through the clock, so the simulator runs on virtual time.
 */
import { abortReasons } from '../errors.ts';
import { Cancellation, type CancelSignal } from '../lib/cancel.ts';
import type { Clock } from './clock.ts';
import type { AttemptBudget } from './policy.ts';

/** What attempts need from the request they belong to. */
export interface Scope {
  readonly signal: CancelSignal;
  /** Clock ms by which the request must be over. */
  readonly deadline: number;
  readonly deadlineHit: boolean;
  /** The request's attempt budget (`max_attempts_total`), shared by every branch. */
  readonly attempts: AttemptBudget;
}

/** At most `limit` attempts in all. */
export class AttemptCounter implements AttemptBudget {
  used = 0;
  constructor(readonly limit: number) {}
  available(): boolean {
    return this.used < this.limit;
  }
  take(): void {
    this.used++;
  }
}

export class RequestScope implements Scope {
  readonly startedAt: number;
  readonly deadline: number;
  readonly attempts: AttemptCounter;
  deadlineHit = false;
  private readonly controller = new Cancellation();
  private readonly cancelDeadline: () => void;
  private readonly onClientAbort: () => void;

  constructor(
    clock: Clock,
    private readonly clientSignal: CancelSignal,
    deadlineMs: number,
    maxAttempts: number,
  ) {
    this.startedAt = clock.now();
    this.deadline = this.startedAt + deadlineMs;
    this.attempts = new AttemptCounter(maxAttempts);
    this.onClientAbort = () => this.controller.abort(clientSignal.reason);
    if (clientSignal.aborted) this.controller.abort(clientSignal.reason);
    else clientSignal.addEventListener('abort', this.onClientAbort, { once: true });
    this.cancelDeadline = clock.schedule(deadlineMs, () => {
      this.deadlineHit = true;
      this.controller.abort(abortReasons.requestDeadline);
    });
  }

  get signal(): CancelSignal {
    return this.controller;
  }

  get clientGone(): boolean {
    return this.clientSignal.aborted;
  }

  branch(attempts?: AttemptBudget): BranchScope {
    return new BranchScope(this, attempts);
  }

  /** Cancel anything still running for this request (aborting costs an event: only when needed). */
  cancelRemaining(): void {
    if (!this.controller.aborted) this.controller.abort(abortReasons.requestFinished);
  }

  /** End the request: stop the deadline timer and stop listening to the client. */
  close(): void {
    this.cancelDeadline();
    this.clientSignal.removeEventListener('abort', this.onClientAbort);
  }
}

/** A cancellable branch of a request (one side of a hedge). */
export class BranchScope implements Scope {
  private readonly controller = new Cancellation();
  private readonly onParentAbort: () => void;

  constructor(
    private readonly parent: Scope,
    /** This branch's budget (a hedge branch pays for its extra attempts); default: the request's. */
    readonly attempts: AttemptBudget = parent.attempts,
  ) {
    this.onParentAbort = () => this.controller.abort(parent.signal.reason);
    if (parent.signal.aborted) this.controller.abort(parent.signal.reason);
    else parent.signal.addEventListener('abort', this.onParentAbort, { once: true });
  }

  get signal(): CancelSignal {
    return this.controller;
  }
  get deadline(): number {
    return this.parent.deadline;
  }
  get deadlineHit(): boolean {
    return this.parent.deadlineHit;
  }
  cancel(): void {
    if (!this.controller.aborted) this.controller.abort(abortReasons.hedgeLost);
  }

  close(): void {
    this.parent.signal.removeEventListener('abort', this.onParentAbort);
  }
}
