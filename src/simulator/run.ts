/**
 * Replays a scenario against the real gateway (router, executor, breakers, health probes,
 * simulated providers) on a virtual clock: an hour of traffic in seconds, deterministic for a
 * seed. Measures what the design brief's results table reports.
 */
import { pino } from 'pino';
import { z } from 'zod';
import { normalizeConfig, readValidatedFile } from '../config/load.ts';
import type { RawConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { createGateway } from '../gateway/index.ts';
import { seededRandom } from '../lib/random.ts';
import { VirtualClock } from '../resilience/clock.ts';
import { type Scenario, scenarioModels } from './scenario.ts';
import { Workload } from './workload.ts';

export interface Policy {
  name: string;
  /** The `model` every request asks for. */
  model: string;
  routing?: RawConfig['routing'];
  resilience?: RawConfig['resilience'];
  /** Transform the pool (the baseline strips breakers and probes). */
  models?: (models: RawConfig['models']) => RawConfig['models'];
}

export function baselinePolicy(scenario: Scenario): Policy {
  return {
    name: `baseline (all ${scenario.baseline_model}, no retry, no fallback)`,
    model: scenario.baseline_model,
    routing: { fallback_count: 0 },
    resilience: { max_attempts_per_model: 1, max_attempts_total: 1 },
    models: (models) =>
      Object.fromEntries(
        Object.entries(models).map(([name, model]) => [
          name,
          {
            ...model,
            fallbacks: [],
            health_check: { enabled: false, interval: 30 },
            circuit_breaker: { failure_threshold: 1_000_000, failure_rate: 1, min_requests: 1_000_000 },
          },
        ]),
      ),
  };
}

export function switchyardPolicy(scenario: Scenario): Policy {
  return {
    name: scenario.hedging ? 'switchyard (default policy, hedging on)' : 'switchyard (default policy)',
    model: 'auto',
    resilience: scenario.hedging ? { hedging: { enabled: true, budget: 0.05 } } : undefined,
  };
}

const policyFileSchema = z.strictObject({
  name: z.string().optional(),
  model: z.string().default('auto'),
  routing: z.record(z.string(), z.unknown()).optional(),
  resilience: z.record(z.string(), z.unknown()).optional(),
});

/** A policy file: `model` (default auto), and `routing` / `resilience` sections as in the config. */
export function loadPolicy(path: string): Policy {
  const parsed = { data: readValidatedFile(path, policyFileSchema) };
  return {
    name: parsed.data.name ?? `policy ${path}`,
    model: parsed.data.model,
    routing: parsed.data.routing as RawConfig['routing'],
    resilience: parsed.data.resilience as RawConfig['resilience'],
  };
}

export interface SimulationResult {
  policy: string;
  requests: number;
  successes: number;
  availability: number;
  /** 95% Wilson score lower bound of availability. */
  availabilityLower95: number;
  meanLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  meanTtftMs: number;
  p99TtftMs: number;
  costUsd: number;
  attemptsPerRequest: number;
  /** Attempts started as hedges, per request. */
  hedgesPerRequest: number;
  /** Share of answered requests per model. */
  share: Record<string, number>;
  outage?: {
    model: string;
    startS: number;
    endS: number;
    /** Seconds from outage start to the watched model's breaker opening (undefined = never). */
    breakerOpenAfterS: number | undefined;
    /** Seconds from outage end to the watched model's next successful answer. */
    trafficBackAfterS: number | undefined;
    /** Seconds clients saw an error rate above 20% (10-s windows from the outage start). */
    clientRecoveryS: number;
  };
  /** Simulated seconds and the wall time it took. */
  simulatedS: number;
  wallMs: number;
}

export async function runSimulation(
  scenario: Scenario,
  policy: Policy,
  options: { seed?: number; onProgress?: (done: number) => void } = {},
): Promise<SimulationResult> {
  const seed = options.seed ?? scenario.seed;
  const wallStart = Date.now();
  const clock = new VirtualClock(0);
  const pool = scenarioModels(scenario);
  // Every model gets its own seed derived from the run's, so runs differ only by the seed.
  for (const [index, model] of Object.values(pool).entries()) {
    if (model.simulate) (model.simulate as { seed?: number }).seed = seed * 1000 + index;
  }
  const config = normalizeConfig(
    {
      models: policy.models ? policy.models(pool) : pool,
      routing: { ...policy.routing, seed },
      resilience: policy.resilience,
      observability: { log_level: 'silent', request_log: { enabled: false } },
    },
    {},
  );
  const gateway = createGateway({ config, clock, seed, logger: pino({ level: 'silent' }) });
  gateway.startHealthChecks();

  let attempts = 0;
  let hedges = 0;
  const breakerOpens: Array<{ model: string; at: number }> = [];
  const successesByModel: Array<{ model: string; at: number }> = [];
  gateway.events.subscribe({
    attempt(_id, record) {
      attempts++;
      if (record.hedge) hedges++;
      if (record.outcome === 'success') successesByModel.push({ model: record.model, at: clock.now() });
    },
    breakerTransition(model, transition) {
      if (transition.to === 'open') breakerOpens.push({ model, at: clock.now() });
    },
  });

  const workload = new Workload(scenario, seededRandom(seed));
  const durationMs = scenario.duration * 1000;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const outcomes: Array<{ at: number; ok: boolean }> = [];
  const share: Record<string, number> = {};
  let cost = 0;
  gateway.events.subscribe({
    requestFinished(summary) {
      cost += summary.costUsd;
    },
  });

  let pending = 0;
  let launched = 0;
  const serve = async (request: ReturnType<Workload['next']>['request']) => {
    const started = clock.now();
    pending++;
    try {
      let ttft: number | undefined;
      let model: string;
      if (request.stream) {
        const handle = await gateway.chatStream(request);
        for await (const chunk of handle.chunks) {
          if (ttft === undefined && chunk.choices.some((choice) => choice.delta.content))
            ttft = clock.now() - started;
        }
        model = handle.meta.model;
      } else {
        const result = await gateway.chat(request);
        ttft = clock.now() - started;
        model = result.meta.model;
      }
      latencies.push(clock.now() - started);
      ttfts.push(ttft ?? clock.now() - started);
      share[model] = (share[model] ?? 0) + 1;
      outcomes.push({ at: started, ok: true });
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      outcomes.push({ at: started, ok: false });
    } finally {
      pending--;
    }
  };

  let nextArrival = workload.nextGapSeconds() * 1000;
  while (nextArrival < durationMs) {
    await clock.advanceTo(nextArrival);
    void serve(workload.next(policy.model).request);
    launched++;
    if (options.onProgress && launched % 2000 === 0) options.onProgress(launched);
    nextArrival += workload.nextGapSeconds() * 1000;
  }
  // Let the requests still in flight finish (probes keep sleeping; stop when only they remain).
  while (pending > 0) {
    const wake = clock.nextWakeAt();
    await clock.advanceTo(wake ?? clock.now() + 1000);
  }
  await gateway.close();

  const successes = outcomes.filter((outcome) => outcome.ok).length;
  const total = outcomes.length;
  const answered = Object.values(share).reduce((sum, count) => sum + count, 0) || 1;
  const result: SimulationResult = {
    policy: policy.name,
    requests: total,
    successes,
    availability: total ? successes / total : 0,
    availabilityLower95: wilsonLower(successes, total),
    meanLatencyMs: mean(latencies),
    p50LatencyMs: percentile(latencies, 50),
    p99LatencyMs: percentile(latencies, 99),
    meanTtftMs: mean(ttfts),
    p99TtftMs: percentile(ttfts, 99),
    costUsd: cost,
    attemptsPerRequest: total ? attempts / total : 0,
    hedgesPerRequest: total ? hedges / total : 0,
    share: Object.fromEntries(Object.entries(share).map(([model, count]) => [model, count / answered])),
    simulatedS: clock.now() / 1000,
    wallMs: Date.now() - wallStart,
  };
  const watched = scenario.watch ? pool[scenario.watch] : undefined;
  const window = (watched?.simulate as { outages?: Array<{ start: number; duration: number }> } | undefined)
    ?.outages?.[0];
  if (scenario.watch && window) {
    const startMs = window.start * 1000;
    const endMs = (window.start + window.duration) * 1000;
    const opened = breakerOpens.find((open) => open.model === scenario.watch && open.at >= startMs);
    const back = successesByModel.find((success) => success.model === scenario.watch && success.at >= endMs);
    result.outage = {
      model: scenario.watch,
      startS: window.start,
      endS: window.start + window.duration,
      breakerOpenAfterS: opened ? (opened.at - startMs) / 1000 : undefined,
      trafficBackAfterS: back ? (back.at - endMs) / 1000 : undefined,
      clientRecoveryS: elevatedErrorSpan(outcomes, startMs, 10_000, 0.2) / 1000,
    };
  }
  return result;
}

/** How long, from `startMs`, consecutive windows had an error rate above `threshold`. */
function elevatedErrorSpan(
  outcomes: Array<{ at: number; ok: boolean }>,
  startMs: number,
  windowMs: number,
  threshold: number,
): number {
  let span = 0;
  for (let from = startMs; ; from += windowMs) {
    const inWindow = outcomes.filter((outcome) => outcome.at >= from && outcome.at < from + windowMs);
    if (inWindow.length === 0) return span;
    const errorRate = inWindow.filter((outcome) => !outcome.ok).length / inWindow.length;
    if (errorRate <= threshold) return span;
    span += windowMs;
  }
}

export function wilsonLower(successes: number, total: number, z = 1.96): number {
  if (total === 0) return 0;
  const p = successes / total;
  const denominator = 1 + (z * z) / total;
  const centre = p + (z * z) / (2 * total);
  const margin = z * Math.sqrt((p * (1 - p)) / total + (z * z) / (4 * total * total));
  return (centre - margin) / denominator;
}

function mean(values: number[]): number {
  return values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : 0;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
