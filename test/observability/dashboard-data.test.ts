/**
 * The dashboard's in-memory data on an injected clock: bounded decision ring, per-second
 * history bucketed for the charts, live rates, spend per local day (seeded from the log).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bucketSeconds,
  DashboardData,
  historySeconds,
  type StatsSource,
} from '../../src/observability/dashboard-data.ts';
import type { RequestSummary } from '../../src/observability/events.ts';
import type { ModelReport } from '../../src/observability/stats.ts';

function summary(overrides: Partial<RequestSummary> = {}): RequestSummary {
  return withUsage({
    requestId: 'req_x',
    api: 'chat',
    usage: [],
    startedAt: 0,
    clientKeyId: undefined,
    stream: false,
    requestedModel: 'auto',
    task: 'simple_qa',
    priority: 'balanced',
    model: 'a',
    attempts: [{ model: 'a', provider: 'simulated', outcome: 'success', latencyMs: 100 }],
    fallbacks: 0,
    retries: 0,
    latencyMs: 100,
    ttftMs: undefined,
    promptTokens: 1,
    completionTokens: 1,
    costUsd: 0.01,
    usageEstimated: false,
    status: 200,
    errorCode: undefined,
    errorMessage: undefined,
    reason: 'because',
    ...overrides,
  });
}

function stats(models: string[]): StatsSource {
  return {
    report: () => ({
      uptime_s: 1,
      requests: 0,
      errors: 0,
      cost_usd: 0,
      models: models.map(
        (model): ModelReport => ({
          model,
          provider: 'simulated',
          state: 'healthy',
          breaker: 'closed',
          requests: 0,
          successes: 0,
          errors: {},
          success_rate: null,
          retries: 0,
          fallbacks: 0,
          latency_ms: { p50: null, p95: null, p99: null, mean: null },
          ttft_ms: { p50: null, p95: null, p99: null },
          tokens_in: 0,
          tokens_out: 0,
          cost_usd: 0,
          in_flight: 0,
          health_score: 1,
        }),
      ),
    }),
  };
}

test('decisions are a bounded ring, newest first', () => {
  let now = new Date(2025, 0, 15, 12, 0, 0).getTime();
  const data = new DashboardData({ models: ['a'], decisionCapacity: 5, now: () => now });
  for (let i = 0; i < 12; i++) {
    now += 10;
    data.requestFinished(summary({ requestId: `req_${i}` }));
  }
  const { decisions } = data.snapshot(stats(['a']));
  assert.deepEqual(
    decisions.map((decision) => decision.request_id),
    ['req_11', 'req_10', 'req_9', 'req_8', 'req_7'],
  );
  assert.equal(decisions[0]!.reason, 'because');
});

test('per-second history: RPS, recent success rate, 10 s buckets over 10 minutes', () => {
  const start = new Date(2025, 0, 15, 12, 0, 0).getTime();
  let now = start;
  const data = new DashboardData({ models: ['a', 'b'], now: () => now });
  // 20 requests a second to `a` for 30 s, latency 200 ms; `b` fails its attempts.
  for (let second = 0; second < 30; second++) {
    for (let i = 0; i < 20; i++) {
      now = start + second * 1000 + i * 10;
      data.attempt('r', { model: 'a', provider: 'simulated', outcome: 'success', latencyMs: 200 });
      data.requestFinished(summary({ latencyMs: 200 }));
    }
    data.attempt('r', { model: 'b', provider: 'simulated', outcome: 'server', latencyMs: 5 });
  }
  now = start + 30_000;
  const snapshot = data.snapshot(stats(['a', 'b']));
  const a = snapshot.models.find((model) => model.model === 'a')!;
  const b = snapshot.models.find((model) => model.model === 'b')!;
  assert.equal(a.rps, 20);
  assert.equal(a.success_rate_recent, 1);
  assert.equal(b.rps, 0);
  assert.equal(b.success_rate_recent, 0);
  assert.equal(snapshot.totals.rps, 20);

  const series = snapshot.series;
  assert.equal(series.bucket_s, bucketSeconds);
  assert.equal(series.models.a!.requests.length, historySeconds / bucketSeconds);
  const total = series.models.a!.requests.reduce((sum, value) => sum + value, 0);
  assert.equal(total, 600);
  assert.deepEqual(series.models.a!.requests.slice(-4), [200, 200, 200, 0]);
  assert.deepEqual(series.models.a!.latency_ms.slice(-4), [200, 200, 200, null]);
  assert.equal(series.start + (series.models.a!.requests.length - 1) * bucketSeconds * 1000, now);

  // Eleven minutes later the old seconds have aged out of the ring.
  now = start + 11 * 60_000;
  const later = data.snapshot(stats(['a', 'b']));
  assert.equal(
    later.series.models.a!.requests.reduce((sum, value) => sum + value, 0),
    0,
  );
  assert.equal(later.models.find((model) => model.model === 'a')!.rps, 0);
  assert.equal(later.models.find((model) => model.model === 'b')!.success_rate_recent, null);
});

test('spend today: seeded from the log, per model, reset at local midnight', () => {
  let now = new Date(2025, 0, 15, 23, 59, 0).getTime();
  const data = new DashboardData({ models: ['a', 'b'], spentToday: new Map([['a', 1.5]]), now: () => now });
  data.requestFinished(summary({ model: 'a', costUsd: 0.25 }));
  data.requestFinished(summary({ model: 'b', costUsd: 0.5 }));
  let snapshot = data.snapshot(stats(['a', 'b']));
  assert.equal(snapshot.totals.spend_today_usd, 2.25);
  assert.equal(snapshot.totals.day, '2025-01-15');
  assert.equal(snapshot.models.find((model) => model.model === 'a')!.spend_today_usd, 1.75);

  now = new Date(2025, 0, 16, 0, 0, 5).getTime();
  snapshot = data.snapshot(stats(['a', 'b']));
  assert.equal(snapshot.totals.spend_today_usd, 0);
  assert.equal(snapshot.totals.day, '2025-01-16');
  data.requestFinished(summary({ model: 'b', costUsd: 0.125 }));
  assert.equal(data.snapshot(stats(['a', 'b'])).totals.spend_today_usd, 0.125);
});

/** The per-model usage a real summary carries: one entry for the answering model. */
function withUsage(summary: RequestSummary): RequestSummary {
  if (summary.usage.length > 0 || !summary.model) return summary;
  return {
    ...summary,
    usage: [
      {
        model: summary.model,
        provider: 'simulated',
        promptTokens: summary.promptTokens,
        completionTokens: summary.completionTokens,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        costUsd: summary.costUsd,
        estimated: summary.usageEstimated,
      },
    ],
  };
}
