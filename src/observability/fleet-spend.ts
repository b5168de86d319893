/**
 * Spend the whole fleet shares: every instance adds each request's cost per model to the store,
 * so any instance's `/admin/stats`, `/metrics` and dashboard show what the fleet spent, not just
 * its own part. Writes leave the request path (fire and forget); reads are cached for a second.
 */
import { stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';
import type { GatewayEvents, RequestSummary } from './events.ts';

const refreshMs = 1000;

export class FleetSpend implements Partial<GatewayEvents> {
  private cached = new Map<string, number>();
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

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
      this.store.increment(stateKeys.modelSpend(usage.model), usage.costUsd).catch(this.onError);
    }
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
      next.set(model, values[index] ?? 0);
    });
    this.cached = next;
    this.refreshedAt = Date.now();
  }
}
