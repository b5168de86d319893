/**
 * The design brief's four-model table as ModelSpecs, and helpers for routing tests.
 *
 * Choices the brief leaves open (documented here, used by every routing test):
 * - `cost_per_1k` is both the input and the output price (what the config loader does with a
 *   single price);
 * - `timeout` (seconds) becomes every timeout, first-token included: the speed prior before any
 *   latency is observed;
 * - quality (the brief has none): gpt-4o 9, claude-3-5-sonnet 9, gemini-pro 7, gpt-4o-mini 5;
 * - capabilities: gpt-4o vision/tools/json (the lead's brief); claude vision/tools/json/prefill;
 *   gemini vision/tools/json; gpt-4o-mini tools/json only, so one model lacks vision.
 */
import type { ModelSpec } from '../../src/config/model-spec.ts';
import type { Capability } from '../../src/config/schema.ts';
import type { HealthSnapshot, ModelHealth, RoutingPolicy } from '../../src/routing/types.ts';
import { makeSpec } from '../helpers/spec.ts';

interface TableRow {
  name: string;
  provider: string;
  strengths: ModelSpec['strengths'];
  costPer1k: number;
  timeoutSeconds: number;
  weight: number;
  quality: number;
  contextWindow?: number;
  capabilities: Capability[];
}

const rows: TableRow[] = [
  {
    name: 'gpt-4o',
    provider: 'openai',
    strengths: ['complex_reasoning', 'coding', 'creative_writing'],
    costPer1k: 0.005,
    timeoutSeconds: 30,
    weight: 100,
    quality: 9,
    capabilities: ['vision', 'tools', 'json', 'streaming'],
  },
  {
    name: 'claude-3-5-sonnet',
    provider: 'anthropic',
    strengths: ['long_context', 'analysis', 'document_qa'],
    costPer1k: 0.003,
    timeoutSeconds: 45,
    weight: 80,
    quality: 9,
    contextWindow: 200_000,
    capabilities: ['vision', 'tools', 'json', 'prefill', 'streaming'],
  },
  {
    name: 'gemini-pro',
    provider: 'google',
    strengths: ['multimodal', 'vision', 'realtime'],
    costPer1k: 0.001,
    timeoutSeconds: 20,
    weight: 60,
    quality: 7,
    capabilities: ['vision', 'tools', 'json', 'streaming'],
  },
  {
    name: 'gpt-4o-mini',
    provider: 'openai',
    strengths: ['simple_qa', 'classification'],
    costPer1k: 0.00015,
    timeoutSeconds: 15,
    weight: 120,
    quality: 5,
    capabilities: ['tools', 'json', 'streaming'],
  },
];

function rowSpec(row: TableRow): ModelSpec {
  const ms = row.timeoutSeconds * 1000;
  return makeSpec({
    name: row.name,
    provider: row.provider,
    upstreamModel: row.name,
    strengths: row.strengths,
    inputCostPer1k: row.costPer1k,
    outputCostPer1k: row.costPer1k,
    weight: row.weight,
    quality: row.quality,
    contextWindow: row.contextWindow ?? 128_000,
    capabilities: new Set<Capability>(['chat', ...row.capabilities]),
    timeouts: { connectMs: ms, firstTokenMs: ms, idleMs: ms, totalMs: ms },
  });
}

/** The brief's table, a fresh copy per call (tests may override fields). */
export function briefModels(): ModelSpec[] {
  return rows.map(rowSpec);
}

/** A health snapshot from a plain object; models not named are healthy with no data. */
export function healthOf(entries: Record<string, Partial<ModelHealth>> = {}): HealthSnapshot {
  const map = new Map<string, ModelHealth>();
  for (const [model, health] of Object.entries(entries)) {
    map.set(model, { breaker: 'closed', healthy: true, ...health });
  }
  return { get: (model) => map.get(model) };
}

export function policyOf(overrides: Partial<RoutingPolicy> = {}): RoutingPolicy {
  return {
    priority: 'balanced',
    balancedWeights: { cost: 1, speed: 1, quality: 1 },
    fallbackCount: 2,
    nearTop: 0.1,
    unhealthyFactor: 0.3,
    ...overrides,
  };
}

/** The routing.analysis defaults of the config schema. */
export const analysisDefaults = {
  long_context_tokens: 8000,
  simple_qa_max_tokens: 500,
  exact_count_chars: 24_000,
  token_count: 'auto' as const,
};
