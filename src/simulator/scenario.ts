/**
 * Simulation scenarios: a request mix, an arrival rate, and a pool of simulated models (latency
 * distribution, errors, 429s, outages). Scenario files are YAML; their `models:` entries are
 * merged over the base pool below, so a scenario names only what it changes.
 *
 * A scenario may instead draw its prompts from labelled MMLU data (`mmlu:`, so answers can be
 * scored), shape its arrivals as a compressed month (`month:`), and route Switchyard's run with a
 * learned router (`learned:`): the `seed-table` scenario does all three.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, readValidatedFile } from '../config/load.ts';
import type { RawConfig } from '../config/schema.ts';

type RawModel = RawConfig['models'][string];

const taskShares = z.strictObject({
  simple_qa: z.number().min(0).default(0.6),
  coding: z.number().min(0).default(0.2),
  long_context: z.number().min(0).default(0.1),
  multimodal: z.number().min(0).default(0.1),
});

const mmluSchema = z.strictObject({
  /** Folder of `mmlu_<subject>.csv` files (RouteLLM's per-prompt correctness); relative paths resolve against the scenario's folder. */
  data: z.string(),
  /** JSONL of prompts to leave out (the data's contaminated prompts). */
  exclude: z.string().optional(),
  /** The CSV column of the weak (cheap) measured model and of the strong one. */
  weak: z.string(),
  strong: z.string(),
  /** Draw only prompts with `promptPart(prompt, seed) >= from`: the router was trained below it. */
  split: z.strictObject({ seed: z.number().int(), from: z.number().min(0).max(1) }),
  /** max_tokens of every request; each answer is 50-100% of it. */
  answer_tokens: z.number().int().positive().default(150),
  /** Pool model -> the measured model (the `weak` or `strong` column) whose answers it gives. */
  labels: z.record(z.string(), z.string()),
});

const weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

const monthSchema = z.strictObject({
  /** Days the run's duration is divided into (each day is duration / days simulated seconds). */
  days: z.number().int().positive().default(30),
  first_weekday: z.enum(weekdays).default('monday'),
  /** Hour of the daily peak; the rate follows 1 + amplitude * cos(2π (hour - peak) / 24). */
  peak_hour: z.number().min(0).max(24).default(14),
  diurnal_amplitude: z.number().min(0).max(1).default(0.5),
  /** Rate on Saturdays and Sundays relative to weekdays. */
  weekend_factor: z.number().min(0).default(0.6),
  /** Outages placed on the compressed calendar; `duration` is real seconds (breakers and probes run in real time). */
  outages: z
    .array(
      z.strictObject({
        model: z.string(),
        /** 1-based day of the month. */
        day: z.number().int().positive(),
        hour: z.number().min(0).max(24),
        duration: z.number().positive(),
        mode: z.enum(['error', 'refuse', 'hang', 'rate_limit']).default('error'),
      }),
    )
    .default([]),
});

const learnedSchema = z.strictObject({
  /** Router file (relative paths resolve against the scenario's folder). */
  router: z.string(),
  quality_floor: z.number().min(0).max(1).default(0.1),
});

const targetsSchema = z.strictObject({
  /** Largest allowed relative change of the monthly cost (-0.67 = at least 67% cheaper). */
  cost_change: z.number().optional(),
  /** Largest allowed relative change of the mean response time. */
  latency_change: z.number().optional(),
  availability_lower95: z.number().optional(),
  recovery_s: z.number().optional(),
  /** Smallest allowed Switchyard quality as a share of the baseline's. */
  quality_ratio: z.number().optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string(),
  description: z.string().default(''),
  seed: z.number().int().default(42),
  /** Seconds of simulated traffic. */
  duration: z.number().positive().default(3600),
  /** Mean arrivals per second (Poisson). */
  arrival_rate: z.number().positive().default(6),
  stream: z.boolean().default(true),
  mix: taskShares.default({ simple_qa: 0.6, coding: 0.2, long_context: 0.1, multimodal: 0.1 }),
  /** Typical answer length per task, tokens (each answer is 50-100% of it). */
  output_tokens: z
    .strictObject({
      simple_qa: z.number().int().positive().default(150),
      coding: z.number().int().positive().default(500),
      long_context: z.number().int().positive().default(300),
      multimodal: z.number().int().positive().default(200),
    })
    .default({ simple_qa: 150, coding: 500, long_context: 300, multimodal: 200 }),
  /** Size of the documents in long-context requests, tokens. */
  document_tokens: z.number().int().positive().default(12_000),
  /** The model every baseline request goes to. */
  baseline_model: z.string().default('gpt-4o'),
  /** Overrides merged over the base pool, per model (simulate fields merge too). */
  models: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** Hedging for the Switchyard run (the long-tail scenario turns it on). */
  hedging: z.boolean().default(false),
  /** A model whose outage the report times (breaker open, traffic back). */
  watch: z.string().optional(),
  /** Prompts drawn from labelled MMLU data instead of the task mix (answers are scored). */
  mmlu: mmluSchema.optional(),
  /** Arrivals shaped as a compressed month (day and week cycles), with outages placed in it. */
  month: monthSchema.optional(),
  /** The Switchyard run routes with this learned router (labels from `mmlu.labels`). */
  learned: learnedSchema.optional(),
  /** Targets the report checks (issue 15's table): changes are Switchyard vs the baseline. */
  targets: targetsSchema.optional(),
});

export type Scenario = z.output<typeof scenarioSchema>;

/**
 * The base pool: the brief's six models with latency from public measurements of these APIs
 * (time to first token and output speed, rounded) and list prices (USD per 1k tokens). Each
 * fails about 5.5% of attempts (3.5% 5xx + 2% 429), the brief's 94.5% raw availability.
 */
export const basePool: Record<string, RawModel> = {
  'gpt-4o': model(
    ['complex_reasoning', 'coding', 'creative_writing'],
    0.0025,
    0.01,
    100,
    9,
    128_000,
    ['vision', 'tools', 'json', 'streaming'],
    600,
    80,
  ),
  'claude-3-5-sonnet': model(
    ['long_context', 'analysis', 'document_qa'],
    0.003,
    0.015,
    80,
    9,
    200_000,
    ['vision', 'tools', 'json', 'streaming', 'prefill'],
    900,
    60,
    45,
  ),
  'gemini-pro': model(
    ['multimodal', 'vision', 'realtime'],
    0.00125,
    0.005,
    60,
    8,
    1_000_000,
    ['vision', 'tools', 'json', 'streaming'],
    800,
    70,
    20,
  ),
  'gpt-4o-mini': model(
    ['simple_qa', 'classification'],
    0.00015,
    0.0006,
    120,
    6,
    128_000,
    ['vision', 'tools', 'json', 'streaming'],
    400,
    110,
    15,
  ),
  'llama-3': model(
    ['simple_qa', 'creative_writing', 'classification'],
    0.0006,
    0.0008,
    50,
    5,
    8192,
    ['json', 'streaming', 'prefill'],
    350,
    150,
    20,
  ),
  mistral: model(
    ['coding', 'simple_qa', 'classification'],
    0.002,
    0.006,
    50,
    7,
    32_000,
    ['tools', 'json', 'streaming'],
    500,
    90,
    20,
  ),
};

function model(
  strengths: string[],
  input: number,
  output: number,
  weight: number,
  quality: number,
  context: number,
  capabilities: string[],
  ttftMs: number,
  tokensPerSecond: number,
  timeout = 30,
): RawModel {
  return {
    provider: 'simulated',
    strengths,
    input_cost_per_1k: input,
    output_cost_per_1k: output,
    weight,
    quality,
    max_tokens: context,
    timeout,
    capabilities,
    health_check: { enabled: true, interval: 10 },
    simulate: {
      ttft_ms: ttftMs,
      ttft_sigma: 0.4,
      tokens_per_second: tokensPerSecond,
      chunk_tokens: 25,
      error_rate: 0.035,
      rate_limit_rate: 0.02,
      retry_after: 2,
    },
  } as RawModel;
}

/** The pool for a scenario: base pool with the scenario's overrides merged in. */
export function scenarioModels(scenario: Scenario): Record<string, RawModel> {
  const models: Record<string, RawModel> = {};
  for (const [name, base] of Object.entries(basePool)) {
    const override = scenario.models[name] ?? {};
    const simulate = { ...(base.simulate as object), ...((override.simulate as object | undefined) ?? {}) };
    models[name] = { ...base, ...override, simulate } as RawModel;
  }
  for (const [name, override] of Object.entries(scenario.models)) {
    if (!models[name]) models[name] = override as RawModel;
  }
  for (const { model: name, ...window } of monthOutages(scenario)) {
    const model = models[name];
    const simulate = model?.simulate as { outages?: unknown[] } | undefined;
    if (!model || !simulate)
      throw new ConfigError([`month.outages: ${name} is not a simulated model of the pool`]);
    models[name] = {
      ...model,
      simulate: { ...simulate, outages: [...(simulate.outages ?? []), window] },
    } as RawModel;
  }
  return models;
}

/** Seconds of the run per day of a `month:` scenario. */
export function daySeconds(scenario: Scenario): number | undefined {
  return scenario.month ? scenario.duration / scenario.month.days : undefined;
}

type MonthOutage = NonNullable<Scenario['month']>['outages'][number];

/** Simulated second at which a month outage starts: its day and hour on the compressed calendar. */
export function outageStartS(scenario: Scenario, outage: MonthOutage): number {
  return Math.round((outage.day - 1 + outage.hour / 24) * (daySeconds(scenario) ?? 0));
}

/** The month's outages in simulated seconds (those that start after the run's end are left out). */
export function monthOutages(
  scenario: Scenario,
): Array<{ model: string; start: number; duration: number; mode: string }> {
  if (!scenario.month) return [];
  return scenario.month.outages
    .map((outage) => ({
      model: outage.model,
      start: outageStartS(scenario, outage),
      duration: outage.duration,
      mode: outage.mode,
    }))
    .filter((outage) => outage.start < scenario.duration);
}

/** Index (0 = Monday) of the month's first weekday. */
export function weekdayIndex(name: (typeof weekdays)[number]): number {
  return weekdays.indexOf(name);
}

const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');
export const builtInScenarios = [
  'steady',
  'outage',
  'rate-limit-storm',
  'flapping',
  'long-tail',
  'seed-table',
] as const;

/** Load a built-in scenario by name, or a scenario file by path; its file paths come back absolute. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = (builtInScenarios as readonly string[]).includes(nameOrPath)
    ? join(scenarioDir, `${nameOrPath}.yaml`)
    : nameOrPath;
  const scenario = readValidatedFile(path, scenarioSchema);
  const folder = dirname(resolve(path));
  const absolute = (file: string) => (isAbsolute(file) ? file : resolve(folder, file));
  if (scenario.mmlu) {
    // SWITCHYARD_MMLU_DATA: the data folder elsewhere (a checkout without ../shared).
    const data = process.env.SWITCHYARD_MMLU_DATA;
    if (data) {
      if (scenario.mmlu.exclude) scenario.mmlu.exclude = join(data, basename(scenario.mmlu.exclude));
      scenario.mmlu.data = data;
    }
    scenario.mmlu.data = absolute(scenario.mmlu.data);
    if (scenario.mmlu.exclude) scenario.mmlu.exclude = absolute(scenario.mmlu.exclude);
  }
  if (scenario.learned) scenario.learned.router = absolute(scenario.learned.router);
  const missing = [
    ['mmlu.data', scenario.mmlu?.data],
    ['mmlu.exclude', scenario.mmlu?.exclude],
    ['learned.router', scenario.learned?.router],
  ].filter(([, file]) => file !== undefined && !existsSync(file));
  if (missing.length > 0)
    throw new ConfigError(missing.map(([field, file]) => `${field}: ${file} not found`));
  checkLabels(scenario);
  return scenario;
}

/** Every pool model of an MMLU scenario stands for the weak or the strong measured model. */
export function checkLabels(scenario: Scenario): void {
  const mmlu = scenario.mmlu;
  if (!mmlu) {
    if (scenario.learned) throw new ConfigError(['learned: needs mmlu.labels (pool model -> router label)']);
    return;
  }
  const problems: string[] = [];
  for (const name of Object.keys(scenarioModels(scenario))) {
    const label = mmlu.labels[name];
    if (label === undefined) problems.push(`mmlu.labels: ${name} has no measured model`);
    else if (label !== mmlu.weak && label !== mmlu.strong)
      problems.push(`mmlu.labels.${name}: "${label}" is neither mmlu.weak nor mmlu.strong`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
