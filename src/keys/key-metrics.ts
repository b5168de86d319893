/**
 * Per-key series on `/metrics`, labelled by the key's public id (bounded by the number of keys,
 * which the admin creates; a client can never add a label value). Read from the store's counters
 * at scrape time, so in a fleet they are every instance's totals, and on one instance they
 * survive a restart: gauges, like `switchyard_fleet_cost_usd`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { KeyOverview } from './service.ts';

export function registerKeyMetrics(registry: Registry, rows: () => Promise<KeyOverview[]>): void {
  const registers = [registry];
  // One read per scrape, shared by the four gauges (each gauge's collect runs in the same scrape).
  let scrape: { at: number; rows: Promise<KeyOverview[]> } | undefined;
  const current = () => {
    const now = Date.now();
    if (!scrape || now - scrape.at > 500) scrape = { at: now, rows: rows() };
    return scrape.rows;
  };
  const gauge = (name: string, help: string, value: (row: KeyOverview) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['key'],
      registers,
      async collect() {
        this.reset();
        for (const row of await current()) {
          const figure = value(row);
          if (figure !== null) this.set({ key: row.id }, figure);
        }
      },
    });
  gauge(
    'switchyard_key_requests',
    'Requests made with a virtual key since it was created (every instance).',
    (row) => row.requests,
  );
  gauge(
    'switchyard_key_spend_usd',
    'Spend in US dollars with a virtual key since it was created (every instance).',
    (row) => row.spend_usd,
  );
  gauge(
    'switchyard_key_budget_usd',
    "A virtual key's budget per period, US dollars.",
    (row) => row.budget_usd,
  );
  gauge(
    'switchyard_key_budget_spent_usd',
    "What a virtual key's budget has taken this period: settled spend plus what requests in flight reserved.",
    (row) => row.period_spend_usd,
  );
}
