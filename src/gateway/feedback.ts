/**
 * Feedback (`POST /v1/feedback`, issue 15): a client's score (0..1) of an earlier answer. The
 * gateway remembers what each answered request was (task, answering model, client key) for a
 * while — in process, and with shared state in the store so any instance can take the score — and
 * turns a score into the bandit's evidence for (task, model). The evidence lives in the store as
 * two counters per arm, incremented atomically, so a fleet learns as one; each instance reads it
 * back every few seconds for its exploration draws.
 */
import type { TaskType } from '../config/schema.ts';
import type { RequestSummary } from '../observability/events.ts';
import type { Clock } from '../resilience/clock.ts';
import type { ArmEvidence } from '../routing/explore.ts';
import { type FeedbackTarget, stateKeys } from '../state/keys.ts';
import type { Key, Store } from '../state/store.ts';

export type { FeedbackTarget };

export interface FeedbackOptions {
  /** The configured models and tasks: the arms whose evidence is read back. */
  models: readonly string[];
  tasks: readonly TaskType[];
  /** Keep targets in the store too (shared state): any instance can then take the score. */
  shared: boolean;
  /** How long a request can be scored after it was answered, ms. */
  windowMs: number;
  /** Targets kept in process (the oldest are dropped first). */
  capacity: number;
  /** How often the store's evidence is read back, ms; 0: never (no exploration). */
  refreshMs: number;
  clock: Clock;
  onStoreError: (error: unknown) => void;
}

export type FeedbackOutcome =
  /** The score counted in the bandit. */
  | { status: 'counted'; target: FeedbackTarget }
  /** Already scored once: the log takes the new score, the bandit does not count it twice. */
  | { status: 'rescored'; target: FeedbackTarget }
  /** No answered request with this id (unknown, too old, or another key's). */
  | { status: 'unknown' };

/** Beta(1, 1): no feedback yet says nothing. */
const PRIOR = 1;

interface LocalTarget extends FeedbackTarget {
  at: number;
  counted: boolean;
}

export class FeedbackLearner {
  private readonly targets = new Map<string, LocalTarget>();
  private readonly evidence = new Map<string, ArmEvidence>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: FeedbackOptions,
  ) {
    if (options.refreshMs > 0) {
      void this.refresh();
      this.timer = setInterval(() => void this.refresh(), options.refreshMs);
      this.timer.unref?.();
    }
  }

  /** An answered request can be scored from now on. */
  remember(summary: RequestSummary): void {
    if (summary.status !== 200 || summary.model === undefined || summary.task === undefined) return;
    const target: LocalTarget = {
      task: summary.task,
      model: summary.model,
      at: this.options.clock.now(),
      counted: false,
    };
    if (summary.clientKeyId !== undefined) target.keyId = summary.clientKeyId;
    if (this.targets.size >= this.options.capacity) {
      const oldest = this.targets.keys().next().value;
      if (oldest !== undefined) this.targets.delete(oldest);
    }
    this.targets.set(summary.requestId, target);
    if (this.options.shared) {
      const shared: FeedbackTarget = { task: target.task, model: target.model };
      if (target.keyId !== undefined) shared.keyId = target.keyId;
      this.store
        .set(stateKeys.feedbackTarget(summary.requestId), shared, { ttlMs: this.options.windowMs })
        .catch(this.options.onStoreError);
    }
  }

  /**
   * A score for `requestId` from the client key `keyId`. `known`: the target when the caller
   * already has it (a request-log row older than what is remembered here), and whether that row
   * was scored before.
   */
  async record(
    requestId: string,
    score: number,
    keyId: string | undefined,
    known?: FeedbackTarget & { scored: boolean },
  ): Promise<FeedbackOutcome> {
    const local = this.targets.get(requestId);
    const fresh = local && this.options.clock.now() - local.at <= this.options.windowMs ? local : undefined;
    const target = fresh ?? known ?? (await this.sharedTarget(requestId));
    if (!target || target.keyId !== keyId) return { status: 'unknown' };
    const publicTarget: FeedbackTarget = { task: target.task, model: target.model };
    const first = fresh ? !fresh.counted : !(known?.scored ?? false);
    if (fresh) fresh.counted = true;
    if (!first || !(await this.firstAcrossFleet(requestId)))
      return { status: 'rescored', target: publicTarget };
    this.addEvidence(target.task, target.model, score);
    const writes = [
      this.store.increment(stateKeys.banditGood(target.task, target.model), score),
      this.store.increment(stateKeys.banditBad(target.task, target.model), 1 - score),
    ];
    await Promise.all(writes).catch(this.options.onStoreError);
    return { status: 'counted', target: publicTarget };
  }

  /** Beta posterior of (task, model): the prior plus every instance's feedback. */
  evidenceOf = (task: string, model: string): ArmEvidence =>
    this.evidence.get(armKey(task, model)) ?? { alpha: PRIOR, beta: PRIOR };

  /** Reads every arm's evidence back from the store (what the rest of the fleet learned). */
  async refresh(): Promise<void> {
    const arms: Array<[string, Key<number>, Key<number>]> = [];
    for (const task of this.options.tasks) {
      for (const model of this.options.models) {
        arms.push([armKey(task, model), stateKeys.banditGood(task, model), stateKeys.banditBad(task, model)]);
      }
    }
    try {
      const values = await this.store.getMany(arms.flatMap(([, good, bad]) => [good, bad]));
      arms.forEach(([arm], index) => {
        const good = values[2 * index] ?? 0;
        const bad = values[2 * index + 1] ?? 0;
        if (good + bad > 0) this.evidence.set(arm, { alpha: PRIOR + good, beta: PRIOR + bad });
      });
    } catch (error) {
      this.options.onStoreError(error);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sharedTarget(requestId: string): Promise<FeedbackTarget | undefined> {
    if (!this.options.shared) return undefined;
    try {
      return await this.store.get(stateKeys.feedbackTarget(requestId));
    } catch (error) {
      this.options.onStoreError(error);
      return undefined;
    }
  }

  /** With shared state, true only for the first instance to count this request. */
  private async firstAcrossFleet(requestId: string): Promise<boolean> {
    if (!this.options.shared) return true;
    try {
      return await this.store.set(stateKeys.feedbackCounted(requestId), 1, {
        ttlMs: this.options.windowMs,
        onlyIfAbsent: true,
      });
    } catch (error) {
      this.options.onStoreError(error);
      return true;
    }
  }

  /** The local view moves at once; the store's total arrives with the next refresh. */
  private addEvidence(task: string, model: string, score: number): void {
    const current = this.evidenceOf(task, model);
    this.evidence.set(armKey(task, model), { alpha: current.alpha + score, beta: current.beta + 1 - score });
  }
}

const armKey = (task: string, model: string) => `${task}\u0000${model}`;
