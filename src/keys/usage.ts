/**
 * Spend, requests and last use per key, counted from the gateway's `requestFinished` events (the
 * summary's `clientKeyId` is the key's public id). Events add to an in-memory tally, written
 * every `flushIntervalMs` (and on close, and before a read through `KeyService`) to the store's
 * counters (`keySpend`, `keyRequestCount`, `keyLastUsed`: shared by a fleet) and, on a single
 * instance, to its SQLite usage rows, from which the store is seeded again at the next start (a
 * restart resets no budget; a crash loses at most that interval's tally, as the request log loses
 * its unwritten rows). Budgets are enforced by the admission's quota bucket, not these counters.
 */
import { stateKeys } from '../state/keys.ts';
import { type Key, key, type Store } from '../state/store.ts';
import type { KeyDatabase, UsageDelta } from './database.ts';
import { isKeyId } from './key-format.ts';
import { budgetPeriods, currentPeriod } from './periods.ts';
import type { KeyRecord, KeyUsage } from './record.ts';

/** What the recorder reads from a finished request (the gateway's `RequestSummary` has it). */
export interface FinishedRequest {
  clientKeyId: string | undefined;
  costUsd: number;
}

interface Tally {
  usd: number;
  requests: number;
  lastUsedAt: number;
}

export interface UsageOptions {
  store: Store;
  database?: KeyDatabase;
  now?: () => number;
  onError: (error: unknown) => void;
  /**
   * How often tallies are written, ms (default 200, as the fleet's spend: three Redis scripts and
   * one SQLite transaction per interval instead of per turn of the event loop).
   */
  flushIntervalMs?: number;
}

const budgetKey = (record: KeyRecord, now: number): Key<number> | undefined =>
  record.budget
    ? key<number>(stateKeys.keyBudget(record.id, currentPeriod(record.budget.period, now).label))
    : undefined;

export class KeyUsageRecorder {
  private pending = new Map<string, Tally>();
  private scheduled: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: UsageOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The event sink. */
  requestFinished(summary: FinishedRequest): void {
    const id = summary.clientKeyId;
    if (id === undefined || !isKeyId(id)) return; // a static key, or no key
    let tally = this.pending.get(id);
    if (!tally) {
      tally = { usd: 0, requests: 0, lastUsedAt: 0 };
      this.pending.set(id, tally);
    }
    tally.usd += summary.costUsd;
    tally.requests++;
    tally.lastUsedAt = this.now();
    if (!this.scheduled) {
      this.scheduled = setTimeout(() => {
        this.scheduled = undefined;
        this.flush().catch(this.options.onError);
      }, this.options.flushIntervalMs ?? 200);
      this.scheduled.unref();
    }
  }

  /** Write what is tallied (and wait for any write in progress). */
  flush(): Promise<void> {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.catch(() => {}).then(() => this.write(batch));
    return this.flushing;
  }

  /** A single instance: the store's counters and current budget buckets from SQLite (at start, after a budget change). */
  async seed(records: readonly KeyRecord[], withTotals: boolean): Promise<void> {
    const { store, database } = this.options;
    if (!database) return;
    await this.flush(); // the rows read below must hold every tally so far
    const now = this.now();
    for (const record of records) {
      if (withTotals) {
        const total = database.usage(record.id, 'total');
        if (total) {
          await store.set(stateKeys.keySpend(record.id), total.usd);
          await store.set(stateKeys.keyRequestCount(record.id), total.requests);
          if (total.lastUsedAt) await store.set(stateKeys.keyLastUsed(record.id), total.lastUsedAt);
        }
      }
      if (!record.budget) continue;
      const period = currentPeriod(record.budget.period, now);
      const spent = database.usage(record.id, period.label)?.usd ?? 0;
      // Only when absent: an existing bucket also holds the reservations of requests in flight.
      await store.set(key<number>(stateKeys.keyBudget(record.id, period.label)), spent, {
        ttlMs: Math.max(1, period.endMs - now),
        onlyIfAbsent: true,
      });
    }
  }

  /** Each record's usage, from the store (every instance's, in a fleet). */
  async usageOf(records: readonly KeyRecord[]): Promise<Map<string, KeyUsage>> {
    const { store } = this.options;
    const now = this.now();
    const ids = records.map((record) => record.id);
    const budgeted = records.filter((record) => record.budget);
    const [spend, requests, lastUsed, budgets] = await Promise.all([
      store.getMany(ids.map(stateKeys.keySpend)),
      store.getMany(ids.map(stateKeys.keyRequestCount)),
      store.getMany(ids.map(stateKeys.keyLastUsed)),
      store.getMany(budgeted.map((record) => budgetKey(record, now)!)),
    ]);
    const periodSpend = new Map(budgeted.map((record, index) => [record.id, budgets[index] ?? 0]));
    const usage = new Map<string, KeyUsage>();
    records.forEach((record, index) => {
      const entry: KeyUsage = { requests: requests[index] ?? 0, spendUsd: spend[index] ?? 0 };
      if (record.budget) entry.periodSpendUsd = periodSpend.get(record.id) ?? 0;
      if (lastUsed[index] !== undefined) entry.lastUsedAt = lastUsed[index];
      usage.set(record.id, entry);
    });
    return usage;
  }

  close(): Promise<void> {
    return this.flush();
  }

  private async write(batch: Map<string, Tally>): Promise<void> {
    if (batch.size === 0) return;
    const { store, database } = this.options;
    // The database first: it is local and synchronous, so a tally is kept even if the store is gone.
    if (database) {
      const deltas: UsageDelta[] = [];
      for (const [id, tally] of batch) {
        for (const period of budgetPeriods) {
          deltas.push({
            id,
            period: currentPeriod(period, tally.lastUsedAt).label,
            usd: tally.usd,
            requests: tally.requests,
            lastUsedAt: tally.lastUsedAt,
          });
        }
      }
      database.addUsage(deltas);
    }
    const writes: Promise<unknown>[] = [];
    for (const [id, tally] of batch) {
      writes.push(store.increment(stateKeys.keyRequestCount(id), tally.requests));
      writes.push(store.set(stateKeys.keyLastUsed(id), tally.lastUsedAt));
      if (tally.usd !== 0) writes.push(store.increment(stateKeys.keySpend(id), tally.usd));
    }
    await Promise.all(writes);
  }
}
