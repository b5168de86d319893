/**
 * What the live dashboard shows, kept in bounded memory: per-model per-second counters for the
 * last ten minutes (fixed ring arrays, reused slot by slot), a ring of the latest routing
 * decisions and breaker transitions, and the spend of the current (local) day. Events only
 * bump numbers in place; the snapshot is assembled once per second for every viewer.
 */
import type { BreakerTransition } from '../resilience/breaker.ts';
import type { AttemptRecord, GatewayEvents, RequestSummary } from './events.ts';
import type { ModelReport, StatsReport } from './stats.ts';

/** Seconds of per-second history kept. */
export const historySeconds = 600;
/** Chart resolution: history is sent in buckets of this many seconds. */
export const bucketSeconds = 10;
/** Window (seconds) for the live rates: RPS and recent success rate. */
const rateWindow = 10;
const successWindow = 60;

/** Per-second ring of one model's numbers. Slot `s % historySeconds` holds second `s`. */
class SecondRing {
  readonly stamp = new Float64Array(historySeconds).fill(-1);
  readonly requests = new Float64Array(historySeconds);
  readonly errors = new Float64Array(historySeconds);
  readonly latencySum = new Float64Array(historySeconds);
  readonly latencyCount = new Float64Array(historySeconds);
  readonly attempts = new Float64Array(historySeconds);
  readonly attemptFailures = new Float64Array(historySeconds);
  readonly cost = new Float64Array(historySeconds);

  slot(second: number): number {
    const index = second % historySeconds;
    if (this.stamp[index] !== second) {
      this.stamp[index] = second;
      this.requests[index] = 0;
      this.errors[index] = 0;
      this.latencySum[index] = 0;
      this.latencyCount[index] = 0;
      this.attempts[index] = 0;
      this.attemptFailures[index] = 0;
      this.cost[index] = 0;
    }
    return index;
  }

  /** Sum one field over seconds [from, to). */
  sum(field: Float64Array, from: number, to: number): number {
    let total = 0;
    for (let second = Math.max(from, to - historySeconds); second < to; second++) {
      const index = second % historySeconds;
      if (this.stamp[index] === second) total += field[index]!;
    }
    return total;
  }
}

/** A fixed-capacity ring; `list()` is newest first. */
class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  list(): T[] {
    const out: T[] = [];
    for (let i = 1; i <= this.size; i++)
      out.push(this.items[(this.next - i + this.capacity) % this.capacity]!);
    return out;
  }
}

export interface DecisionView {
  time: number;
  request_id: string;
  requested_model: string;
  model: string | null;
  task: string | null;
  priority: string | null;
  reason: string | null;
  fallbacks: number;
  retries: number;
  status: number;
  latency_ms: number;
  cost_usd: number;
  error_code: string | null;
}

export interface BreakerEventView {
  time: number;
  model: string;
  from: string;
  to: string;
  reason: string;
}

export interface DashboardModel {
  model: string;
  provider: string;
  state: ModelReport['state'];
  breaker: string;
  health_score: number;
  in_flight: number;
  requests: number;
  /** Requests per second answered by (or failed on) this model, last 10 s. */
  rps: number;
  /** Attempt success rate over the last minute (null: no attempts), and since start. */
  success_rate_recent: number | null;
  success_rate: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  spend_today_usd: number;
  cost_usd: number;
}

export interface DashboardSnapshot {
  time: number;
  uptime_s: number;
  totals: {
    requests: number;
    errors: number;
    rps: number;
    cost_usd: number;
    /** Every instance's spend, when state is shared (null: this instance is alone). */
    fleet_cost_usd: number | null;
    spend_today_usd: number;
    /** Local date the spend is for, YYYY-MM-DD. */
    day: string;
  };
  models: DashboardModel[];
  series: {
    bucket_s: number;
    /** Start (ms) of the first bucket; bucket i covers [start + i*bucket_s, start + (i+1)*bucket_s). */
    start: number;
    /** The last bucket is still filling. */
    partial_last: boolean;
    models: Record<string, { requests: number[]; errors: number[]; latency_ms: Array<number | null> }>;
  };
  decisions: DecisionView[];
  breaker_events: BreakerEventView[];
  /** Virtual keys (the keys panel): limits, spend against budget, last use. */
  keys: DashboardKey[];
}

/** One virtual key on the keys panel. */
export interface DashboardKey {
  id: string;
  name: string;
  status: 'active' | 'revoked' | 'expired';
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  max_concurrency: number | null;
  budget_usd: number | null;
  budget_period: string | null;
  /** This period's settled spend plus what requests in flight reserved. */
  period_spend_usd: number | null;
  spend_usd: number;
  requests: number;
  /** Epoch ms. */
  last_used_at: number | null;
}

export interface StatsSource {
  report(): StatsReport;
}

export interface DashboardDataOptions {
  models: readonly string[];
  /** Spend so far today per model (e.g. read back from the request log). */
  spentToday?: ReadonlyMap<string, number>;
  decisionCapacity?: number;
  now?: () => number;
  /** The virtual keys to show (latest known; read synchronously once per snapshot). */
  keys?: () => readonly DashboardKey[];
}

export class DashboardData implements Partial<GatewayEvents> {
  private readonly rings = new Map<string, SecondRing>();
  private readonly decisions: Ring<DecisionView>;
  private readonly breakerEvents = new Ring<BreakerEventView>(30);
  private readonly todayByModel = new Map<string, number>();
  private today = 0;
  private dayStart = 0;
  private nextDayStart = 0;
  private dayLabel = '';
  private readonly now: () => number;
  private readonly keys: (() => readonly DashboardKey[]) | undefined;

  constructor(options: DashboardDataOptions) {
    this.now = options.now ?? Date.now;
    this.keys = options.keys;
    this.decisions = new Ring<DecisionView>(options.decisionCapacity ?? 50);
    for (const model of options.models) this.rings.set(model, new SecondRing());
    this.rollDay(this.now());
    for (const [model, spend] of options.spentToday ?? []) {
      this.todayByModel.set(model, (this.todayByModel.get(model) ?? 0) + spend);
      this.today += spend;
    }
  }

  attempt(_requestId: string, record: AttemptRecord): void {
    const ring = this.ringOf(record.model);
    const index = ring.slot(Math.floor(this.now() / 1000));
    ring.attempts[index]!++;
    if (record.outcome !== 'success') ring.attemptFailures[index]!++;
  }

  requestFinished(summary: RequestSummary): void {
    const now = this.now();
    if (now >= this.nextDayStart) this.rollDay(now);
    this.today += summary.costUsd;
    for (const usage of summary.usage) {
      if (usage.costUsd > 0)
        this.todayByModel.set(usage.model, (this.todayByModel.get(usage.model) ?? 0) + usage.costUsd);
    }
    const answering = summary.model ?? summary.attempts[0]?.model;
    const ring = answering === undefined ? undefined : this.ringOf(answering);
    if (ring) {
      const index = ring.slot(Math.floor(now / 1000));
      ring.requests[index]!++;
      if (summary.status >= 500) ring.errors[index]!++;
      else {
        ring.latencySum[index]! += summary.latencyMs;
        ring.latencyCount[index]!++;
      }
      ring.cost[index]! += summary.costUsd;
    }
    this.decisions.push({
      time: summary.startedAt,
      request_id: summary.requestId,
      requested_model: summary.requestedModel,
      model: summary.model ?? null,
      task: summary.task ?? null,
      priority: summary.priority ?? null,
      reason: summary.reason ?? null,
      fallbacks: summary.fallbacks,
      retries: summary.retries,
      status: summary.status,
      latency_ms: Math.round(summary.latencyMs),
      cost_usd: summary.costUsd,
      error_code: summary.errorCode ?? null,
    });
  }

  breakerTransition(model: string, transition: BreakerTransition): void {
    this.breakerEvents.push({
      time: this.now(),
      model,
      from: transition.from,
      to: transition.to,
      reason: transition.reason,
    });
  }

  /** Everything the page shows, combined with the stats collector's per-model report. */
  snapshot(stats: StatsSource): DashboardSnapshot {
    const now = this.now();
    if (now >= this.nextDayStart) this.rollDay(now);
    const report = stats.report();
    const second = Math.floor(now / 1000);
    const models: DashboardModel[] = [];
    let totalRecent = 0;
    for (const entry of report.models) {
      const ring = this.rings.get(entry.model);
      const recentRequests = ring ? ring.sum(ring.requests, second - rateWindow, second) : 0;
      totalRecent += recentRequests;
      const recentAttempts = ring ? ring.sum(ring.attempts, second - successWindow + 1, second + 1) : 0;
      const recentFailures = ring
        ? ring.sum(ring.attemptFailures, second - successWindow + 1, second + 1)
        : 0;
      models.push({
        model: entry.model,
        provider: entry.provider,
        state: entry.state,
        breaker: entry.breaker,
        health_score: entry.health_score,
        in_flight: entry.in_flight,
        requests: entry.requests,
        rps: round(recentRequests / rateWindow, 2),
        success_rate_recent:
          recentAttempts > 0 ? round((recentAttempts - recentFailures) / recentAttempts, 4) : null,
        success_rate: entry.success_rate === null ? null : round(entry.success_rate, 4),
        p50_ms: entry.latency_ms.p50,
        p99_ms: entry.latency_ms.p99,
        spend_today_usd: round(this.todayByModel.get(entry.model) ?? 0, 6),
        cost_usd: entry.cost_usd,
      });
    }
    return {
      time: now,
      uptime_s: report.uptime_s,
      totals: {
        requests: report.requests,
        errors: report.errors,
        rps: round(totalRecent / rateWindow, 2),
        cost_usd: report.cost_usd,
        fleet_cost_usd: report.fleet_cost_usd ?? null,
        spend_today_usd: round(this.today, 6),
        day: this.dayLabel,
      },
      models,
      series: this.series(second),
      decisions: this.decisions.list(),
      breaker_events: this.breakerEvents.list(),
      keys: [...(this.keys?.() ?? [])],
    };
  }

  private series(second: number): DashboardSnapshot['series'] {
    const buckets = historySeconds / bucketSeconds;
    const lastStart = second - (second % bucketSeconds);
    const firstStart = lastStart - (buckets - 1) * bucketSeconds;
    const out: DashboardSnapshot['series']['models'] = {};
    for (const [model, ring] of this.rings) {
      const requests: number[] = [];
      const errors: number[] = [];
      const latency: Array<number | null> = [];
      for (let start = firstStart; start <= lastStart; start += bucketSeconds) {
        const end = start + bucketSeconds;
        requests.push(ring.sum(ring.requests, start, end));
        errors.push(ring.sum(ring.errors, start, end));
        const count = ring.sum(ring.latencyCount, start, end);
        latency.push(count > 0 ? Math.round(ring.sum(ring.latencySum, start, end) / count) : null);
      }
      out[model] = { requests, errors, latency_ms: latency };
    }
    return { bucket_s: bucketSeconds, start: firstStart * 1000, partial_last: true, models: out };
  }

  /** A model's ring; one added by a config reload starts empty (events name configured models only). */
  private ringOf(model: string): SecondRing {
    let ring = this.rings.get(model);
    if (!ring) {
      ring = new SecondRing();
      this.rings.set(model, ring);
    }
    return ring;
  }

  private rollDay(now: number): void {
    const start = new Date(now);
    start.setHours(0, 0, 0, 0);
    const dayStart = start.getTime();
    if (dayStart !== this.dayStart) {
      this.dayStart = dayStart;
      this.today = 0;
      this.todayByModel.clear();
    }
    const next = new Date(dayStart);
    next.setDate(next.getDate() + 1);
    this.nextDayStart = next.getTime();
    const pad = (value: number) => String(value).padStart(2, '0');
    this.dayLabel = `${start.getFullYear()}-${pad(start.getMonth() + 1)}-${pad(start.getDate())}`;
  }
}

/** Local midnight of the day containing `now`, ms. */
export function startOfLocalDay(now: number = Date.now()): number {
  const start = new Date(now);
  start.setHours(0, 0, 0, 0);
  return start.getTime();
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
