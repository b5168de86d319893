/**
 * Per-model counters and latency distributions for /admin/stats and the dashboard, in bounded
 * memory: HDR histograms (fixed size whatever the traffic), never a list of samples.
 */
import * as hdr from 'hdr-histogram-js';
import type { AttemptRecord, GatewayEvents, ModelStatusSource, RequestSummary } from './events.ts';

interface ModelStats {
  requests: number;
  successes: number;
  errors: Record<string, number>;
  retries: number;
  fallbacks: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  latency: hdr.Histogram;
  ttft: hdr.Histogram;
}

function newHistogram(): hdr.Histogram {
  // 1 ms .. 10 min at 2 significant digits: a few KB per histogram, whatever the traffic.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000,
    numberOfSignificantValueDigits: 2,
    bitBucketSize: 32,
    useWebAssembly: false,
  });
}

export interface StatsReport {
  uptime_s: number;
  requests: number;
  errors: number;
  /** This instance's spend. */
  cost_usd: number;
  /** Every instance's spend (when state is shared). */
  fleet_cost_usd?: number;
  models: ModelReport[];
}

export interface ModelReport {
  model: string;
  provider: string;
  state: 'healthy' | 'degraded' | 'down';
  breaker: string;
  requests: number;
  successes: number;
  errors: Record<string, number>;
  success_rate: number | null;
  retries: number;
  fallbacks: number;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null; mean: number | null };
  ttft_ms: { p50: number | null; p95: number | null; p99: number | null };
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  fleet_cost_usd?: number;
  in_flight: number;
  health_score: number;
}

export class StatsCollector implements Partial<GatewayEvents> {
  private readonly models = new Map<string, ModelStats>();
  private totalRequests = 0;
  private totalErrors = 0;
  private totalCost = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly source: ModelStatusSource) {
    for (const status of source.modelStatus()) this.models.set(status.model, this.empty());
  }

  attempt(_requestId: string, record: AttemptRecord): void {
    const stats = this.of(record.model);
    if (record.outcome === 'cancelled') {
      // A lost hedge or a client that left says nothing about the model: not in its success rate.
      stats.errors.cancelled = (stats.errors.cancelled ?? 0) + 1;
      return;
    }
    stats.requests++;
    if (record.outcome === 'success') {
      stats.successes++;
    } else {
      stats.errors[record.outcome] = (stats.errors[record.outcome] ?? 0) + 1;
    }
  }

  requestFinished(summary: RequestSummary): void {
    this.totalRequests++;
    // Errors are the gateway's and the upstreams' failures (5xx); client mistakes and disconnects are not.
    if (summary.status >= 500) this.totalErrors++;
    this.totalCost += summary.costUsd;
    // Tokens and spend go to every model that delivered part of the answer, even if it failed later.
    for (const usage of summary.usage) {
      const stats = this.of(usage.model);
      stats.tokensIn += usage.promptTokens;
      stats.tokensOut += usage.completionTokens;
      stats.costUsd += usage.costUsd;
    }
    if (!summary.model) return;
    const stats = this.of(summary.model);
    stats.retries += summary.retries;
    if (summary.fallbacks > 0) stats.fallbacks++;
    stats.latency.recordValue(clampMs(summary.latencyMs));
    if (summary.ttftMs !== undefined) stats.ttft.recordValue(clampMs(summary.ttftMs));
  }

  /** Every model's numbers; with `fleet`, also the spend of every instance sharing the store. */
  report(fleet?: ReadonlyMap<string, number>): StatsReport {
    const models: ModelReport[] = [];
    for (const status of this.source.modelStatus()) {
      const stats = this.of(status.model);
      const { breaker } = status;
      const count = stats.latency.totalCount;
      models.push({
        model: status.model,
        provider: status.provider,
        state:
          breaker === 'open' ? 'down' : !status.healthy || breaker === 'half_open' ? 'degraded' : 'healthy',
        breaker,
        requests: stats.requests,
        successes: stats.successes,
        errors: { ...stats.errors },
        success_rate: stats.requests === 0 ? null : stats.successes / stats.requests,
        retries: stats.retries,
        fallbacks: stats.fallbacks,
        latency_ms: {
          p50: count ? stats.latency.getValueAtPercentile(50) : null,
          p95: count ? stats.latency.getValueAtPercentile(95) : null,
          p99: count ? stats.latency.getValueAtPercentile(99) : null,
          mean: count ? Math.round(stats.latency.mean) : null,
        },
        ttft_ms: {
          p50: stats.ttft.totalCount ? stats.ttft.getValueAtPercentile(50) : null,
          p95: stats.ttft.totalCount ? stats.ttft.getValueAtPercentile(95) : null,
          p99: stats.ttft.totalCount ? stats.ttft.getValueAtPercentile(99) : null,
        },
        tokens_in: stats.tokensIn,
        tokens_out: stats.tokensOut,
        cost_usd: round(stats.costUsd),
        ...(fleet ? { fleet_cost_usd: round(fleet.get(status.model) ?? 0) } : {}),
        in_flight: status.inFlight,
        health_score: round(status.healthScore),
      });
    }
    const report: StatsReport = {
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      requests: this.totalRequests,
      errors: this.totalErrors,
      cost_usd: round(this.totalCost),
      models,
    };
    if (fleet) {
      let total = 0;
      for (const cost of fleet.values()) total += cost;
      report.fleet_cost_usd = round(total);
    }
    return report;
  }

  /** A model's numbers; one added by a config reload starts at zero (events name configured models only). */
  private of(model: string): ModelStats {
    let stats = this.models.get(model);
    if (!stats) {
      stats = this.empty();
      this.models.set(model, stats);
    }
    return stats;
  }

  private empty(): ModelStats {
    return {
      requests: 0,
      successes: 0,
      errors: {},
      retries: 0,
      fallbacks: 0,
      tokensIn: 0,
      tokensOut: 0,
      costUsd: 0,
      latency: newHistogram(),
      ttft: newHistogram(),
    };
  }
}

function clampMs(ms: number): number {
  return Math.min(600_000, Math.max(1, Math.round(ms)));
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
