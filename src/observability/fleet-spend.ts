/**
 * Spend the whole fleet shares: every instance adds each request's cost per model to the store,
 * so any instance's `/admin/stats`, `/metrics` and dashboard show what the fleet spent, not just
 * its own part. Writes leave the request path: each model's spend is summed for up to
 * `flushMs` and added to the store in one increment (one Redis script per model per interval, not
 * one per request); reads are cached for a second, and this instance's unwritten part is added.
 */
import { stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';
import type { GatewayEvents, RequestSummary } from './events.ts';

const refreshMs = 1000;
/** How long spend is summed in process before one increment per model goes to the store. */
const flushMs = 200;

export class FleetSpend implements Partial<GatewayEvents> {
  private cached = new Map<string, number>();
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;
  /** Spend not yet added to the store, per model. */
  private readonly pending = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: Store,
    /** The models to read back; a function is asked at each refresh (a config reload may add models). */
    private readonly models: readonly string[] | (() => readonly string[]),
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  requestFinished(summary: RequestSummary): void {
    for (const usage of summary.usage) {
      if (usage.costUsd <= 0) continue;
      this.cached.set(usage.model, (this.cached.get(usage.model) ?? 0) + usage.costUsd);
      this.pending.set(usage.model, (this.pending.get(usage.model) ?? 0) + usage.costUsd);
    }
    if (this.pending.size > 0 && !this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), flushMs);
      this.flushTimer.unref?.();
    }
  }

  /** Adds what is summed so far to the store (also at shutdown, before the store closes). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [model, costUsd] of this.pending) {
      this.store.increment(stateKeys.modelSpend(model), costUsd).catch(this.onError);
    }
    this.pending.clear();
  }

  /** The fleet's spend per model, at most a second old. */
  async totals(): Promise<ReadonlyMap<string, number>> {
    if (Date.now() - this.refreshedAt >= refreshMs) {
      this.refreshing ??= this.refresh().finally(() => {
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
    return this.cached;
  }

  /** The last totals read, without waiting (for synchronous snapshots). */
  latest(): ReadonlyMap<string, number> {
    if (Date.now() - this.refreshedAt >= refreshMs) void this.totals().catch(this.onError);
    return this.cached;
  }

  private async refresh(): Promise<void> {
    const models = typeof this.models === 'function' ? this.models() : this.models;
    const values = await this.store.getMany(models.map((model) => stateKeys.modelSpend(model)));
    const next = new Map<string, number>();
    models.forEach((model, index) => {
      next.set(model, (values[index] ?? 0) + (this.pending.get(model) ?? 0));
    });
    this.cached = next;
    this.refreshedAt = Date.now();
  }
}
