/**
 * Simulation scenarios: a request mix, an arrival rate, and a pool of simulated models (latency
 * distribution, errors, 429s, outages). Scenario files are YAML; their `models:` entries are
 * merged over the base pool below, so a scenario names only what it changes.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readValidatedFile } from '../config/load.ts';
import type { RawConfig } from '../config/schema.ts';

type RawModel = RawConfig['models'][string];

const taskShares = z.strictObject({
  simple_qa: z.number().min(0).default(0.6),
  coding: z.number().min(0).default(0.2),
  long_context: z.number().min(0).default(0.1),
  multimodal: z.number().min(0).default(0.1),
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
  return models;
}

const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');
export const builtInScenarios = ['steady', 'outage', 'rate-limit-storm', 'flapping', 'long-tail'] as const;

/** Load a built-in scenario by name, or a scenario file by path. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = (builtInScenarios as readonly string[]).includes(nameOrPath)
    ? join(scenarioDir, `${nameOrPath}.yaml`)
    : nameOrPath;
  return readValidatedFile(path, scenarioSchema);
}
