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
import type { MmluItem } from './mmlu-workload.ts';
import { answeredCorrectly, MmluWorkload } from './mmlu-workload.ts';
import { monthScale } from './month.ts';
import { type OutageTiming, timeOutages, watchedOutages } from './outage-timing.ts';
import { type Scenario, scenarioModels } from './scenario.ts';
import { type DrawnRequest, type RequestSource, Workload } from './workload.ts';

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
  const policy: Policy = {
    name: scenario.hedging ? 'switchyard (default policy, hedging on)' : 'switchyard (default policy)',
    model: 'auto',
    resilience: scenario.hedging ? { hedging: { enabled: true, budget: 0.05 } } : undefined,
  };
  if (scenario.learned && scenario.mmlu) {
    policy.name = scenario.hedging
      ? 'switchyard (default policy, learned router, hedging on)'
      : 'switchyard (default policy, learned router)';
    // The gateway's routing.learned block: the pool's labels are the router file's labels.
    // Exploration (the feedback bandit) stays at its default, 0: nobody scores simulated answers.
    const learned = {
      router: scenario.learned.router,
      labels: scenario.mmlu.labels,
      quality_floor: scenario.learned.quality_floor,
    };
    policy.routing = { learned } as unknown as RawConfig['routing'];
  }
  return policy;
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
  /** Scored workloads (MMLU): answers scored, correct ones, and their share. */
  answersScored?: number;
  correctAnswers?: number;
  quality?: number;
  /** Share of answered requests served by a model standing for the strong measured model. */
  strongShare?: number;
  /** Month scenarios: `costUsd` scaled to 30 days at the same mean rate (see `monthScale`). */
  monthlyCostUsd?: number;
  /** The first watched outage (kept for existing readers), and every watched outage. */
  outage?: OutageTiming;
  outages?: OutageTiming[];
  /** The longest client-visible error span over the watched outages, seconds. */
  recoveryS?: number;
  /** Simulated seconds and the wall time it took. */
  simulatedS: number;
  wallMs: number;
}

export async function runSimulation(
  scenario: Scenario,
  policy: Policy,
  options: {
    seed?: number;
    onProgress?: (done: number) => void;
    /** Called for each answered request of a scored workload: the question and who answered it. */
    onAnswer?: (answer: { item: MmluItem; model: string; correct: boolean }) => void;
  } = {},
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

  const random = seededRandom(seed);
  const mmlu = scenario.mmlu;
  const workload: RequestSource = mmlu
    ? new MmluWorkload({ ...scenario, mmlu }, random)
    : new Workload(scenario, random);
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
  let scored = 0;
  let correct = 0;
  let strongAnswers = 0;
  const serve = async ({ request, item }: DrawnRequest) => {
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
      if (mmlu && item) {
        const right = answeredCorrectly(mmlu, item, model);
        scored++;
        if (right) correct++;
        if (mmlu.labels[model] === mmlu.strong) strongAnswers++;
        options.onAnswer?.({ item, model, correct: right });
      }
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      outcomes.push({ at: started, ok: false });
    } finally {
      pending--;
    }
  };

  let nextArrival = workload.nextArrivalMs(0);
  while (nextArrival < durationMs) {
    await clock.advanceTo(nextArrival);
    void serve(workload.next(policy.model));
    launched++;
    if (options.onProgress && launched % 2000 === 0) options.onProgress(launched);
    nextArrival = workload.nextArrivalMs(nextArrival);
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
  if (mmlu) {
    result.answersScored = scored;
    result.correctAnswers = correct;
    result.quality = scored ? correct / scored : 0;
    result.strongShare = scored ? strongAnswers / scored : 0;
  }
  if (scenario.month) result.monthlyCostUsd = cost * monthScale(scenario);
  const timings = timeOutages(watchedOutages(scenario, pool), { breakerOpens, successesByModel, outcomes });
  if (timings.length > 0) {
    result.outage = timings[0];
    result.outages = timings;
    result.recoveryS = Math.max(...timings.map((timing) => timing.clientRecoveryS));
  }
  return result;
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
