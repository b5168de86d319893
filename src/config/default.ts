/**
 * The embedded default: the design brief's six models as simulated deployments with plausible
 * latency, prices and a little failure, so routing and failover are visible on the first run.
 * Where a provider key is in the environment, that model goes to the real provider instead.
 */
import type { RawConfig } from './schema.ts';

type RawModel = RawConfig['models'][string];

const simulatedPool: Record<string, RawModel> = {
  'gpt-4o': {
    provider: 'simulated',
    strengths: ['complex_reasoning', 'coding', 'creative_writing'],
    input_cost_per_1k: 0.0025,
    output_cost_per_1k: 0.01,
    timeout: 30,
    weight: 100,
    quality: 9,
    max_tokens: 128_000,
    capabilities: ['vision', 'tools', 'json', 'streaming'],
    circuit_breaker: { failure_threshold: 5, recovery_timeout: 30 },
    simulate: {
      ttft_ms: 450,
      ttft_sigma: 0.4,
      tokens_per_second: 90,
      error_rate: 0.02,
      rate_limit_rate: 0.01,
    },
  },
  'claude-3-5-sonnet': {
    provider: 'simulated',
    strengths: ['long_context', 'analysis', 'document_qa'],
    input_cost_per_1k: 0.003,
    output_cost_per_1k: 0.015,
    timeout: 45,
    weight: 80,
    quality: 9,
    max_tokens: 200_000,
    capabilities: ['vision', 'tools', 'json', 'streaming', 'prefill'],
    simulate: {
      ttft_ms: 600,
      ttft_sigma: 0.4,
      tokens_per_second: 70,
      error_rate: 0.02,
      rate_limit_rate: 0.01,
    },
  },
  'gemini-pro': {
    provider: 'simulated',
    strengths: ['multimodal', 'vision', 'realtime'],
    input_cost_per_1k: 0.0005,
    output_cost_per_1k: 0.0015,
    timeout: 20,
    weight: 60,
    quality: 7,
    max_tokens: 1_000_000,
    capabilities: ['vision', 'tools', 'json', 'streaming'],
    simulate: {
      ttft_ms: 350,
      ttft_sigma: 0.4,
      tokens_per_second: 110,
      error_rate: 0.03,
      rate_limit_rate: 0.01,
    },
  },
  'gpt-4o-mini': {
    provider: 'simulated',
    strengths: ['simple_qa', 'classification'],
    input_cost_per_1k: 0.00015,
    output_cost_per_1k: 0.0006,
    timeout: 15,
    weight: 120,
    quality: 6,
    max_tokens: 128_000,
    capabilities: ['vision', 'tools', 'json', 'streaming'],
    simulate: {
      ttft_ms: 250,
      ttft_sigma: 0.35,
      tokens_per_second: 140,
      error_rate: 0.02,
      rate_limit_rate: 0.01,
    },
  },
  'llama-3': {
    provider: 'simulated',
    strengths: ['simple_qa', 'creative_writing', 'classification'],
    input_cost_per_1k: 0.0002,
    output_cost_per_1k: 0.0002,
    timeout: 20,
    weight: 50,
    quality: 5,
    max_tokens: 8192,
    capabilities: ['json', 'streaming', 'prefill'],
    simulate: {
      ttft_ms: 300,
      ttft_sigma: 0.5,
      tokens_per_second: 120,
      error_rate: 0.04,
      rate_limit_rate: 0.01,
    },
  },
  mistral: {
    provider: 'simulated',
    strengths: ['simple_qa', 'classification', 'creative_writing'],
    input_cost_per_1k: 0.0003,
    output_cost_per_1k: 0.0009,
    timeout: 20,
    weight: 50,
    quality: 6,
    max_tokens: 32_000,
    capabilities: ['tools', 'json', 'streaming'],
    simulate: {
      ttft_ms: 320,
      ttft_sigma: 0.45,
      tokens_per_second: 110,
      error_rate: 0.03,
      rate_limit_rate: 0.01,
    },
  },
};

/** Real deployments for the brief's models, chosen by which keys the environment holds. */
function realDeployment(
  name: string,
  env: NodeJS.ProcessEnv,
): { model: Partial<RawModel>; via: string } | undefined {
  const ai302 = env.AI302_API_KEY;
  const direct: Record<string, () => { model: Partial<RawModel>; via: string } | undefined> = {
    'gpt-4o': () =>
      env.OPENAI_API_KEY
        ? { model: { provider: 'openai', api_key: '${OPENAI_API_KEY}' }, via: 'OpenAI' }
        : undefined,
    'gpt-4o-mini': () =>
      env.OPENAI_API_KEY
        ? { model: { provider: 'openai', api_key: '${OPENAI_API_KEY}' }, via: 'OpenAI' }
        : undefined,
    'claude-3-5-sonnet': () =>
      env.ANTHROPIC_API_KEY
        ? {
            model: {
              provider: 'anthropic',
              api_key: '${ANTHROPIC_API_KEY}',
              model: 'claude-3-5-sonnet-latest',
            },
            via: 'Anthropic',
          }
        : undefined,
    'gemini-pro': () =>
      env.GEMINI_API_KEY
        ? {
            model: { provider: 'google', api_key: '${GEMINI_API_KEY}', model: 'gemini-1.5-pro' },
            via: 'Google',
          }
        : undefined,
  };
  const viaAggregator: Record<string, Partial<RawModel>> = {
    'gpt-4o': { provider: 'openai', base_url: 'https://api.302.ai/v1', api_key: '${AI302_API_KEY}' },
    'gpt-4o-mini': { provider: 'openai', base_url: 'https://api.302.ai/v1', api_key: '${AI302_API_KEY}' },
    'claude-3-5-sonnet': {
      provider: 'anthropic',
      base_url: 'https://api.302.ai/anthropic',
      api_key: '${AI302_API_KEY}',
      model: 'claude-3-5-sonnet-latest',
    },
    'gemini-pro': {
      provider: 'google',
      base_url: 'https://api.302.ai/gemini/v1beta',
      api_key: '${AI302_API_KEY}',
      model: 'gemini-1.5-pro',
    },
  };
  const own = direct[name]?.();
  if (own) return own;
  const aggregated = viaAggregator[name];
  if (ai302 && aggregated) return { model: aggregated, via: '302.ai' };
  return undefined;
}

export interface DefaultConfig {
  config: RawConfig;
  /** One line per model that goes to a real provider, for the start-up message. */
  realModels: string[];
}

/**
 * Each model's fallbacks, best first; models missing from the pool (simulated ones when real keys
 * are set) are left out, so a named model fails over to its peers and never to generated text.
 */
const fallbacksOf: Record<string, string[]> = {
  'gpt-4o': ['claude-3-5-sonnet', 'gemini-pro'],
  'claude-3-5-sonnet': ['gpt-4o', 'gemini-pro'],
  'gemini-pro': ['gpt-4o', 'claude-3-5-sonnet'],
  'gpt-4o-mini': ['gemini-pro', 'llama-3', 'mistral'],
  'llama-3': ['mistral', 'gpt-4o-mini'],
  mistral: ['llama-3', 'gpt-4o-mini'],
};

/**
 * The simulated pool, or, when any provider key is in the environment, only the real models: real
 * users must never get a simulated model's filler text.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): DefaultConfig {
  const real: Record<string, RawModel> = {};
  const realModels: string[] = [];
  for (const [name, model] of Object.entries(simulatedPool)) {
    const deployment = realDeployment(name, env);
    if (!deployment) continue;
    const { simulate: _simulate, ...profile } = model;
    real[name] = { ...profile, ...deployment.model } as RawModel;
    realModels.push(`${name} via ${deployment.via}`);
  }
  const pool = realModels.length > 0 ? real : { ...simulatedPool };
  const models: Record<string, RawModel> = {};
  for (const [name, model] of Object.entries(pool)) {
    models[name] = { ...model, fallbacks: (fallbacksOf[name] ?? []).filter((fallback) => fallback in pool) };
  }
  return {
    config: {
      server: { host: '127.0.0.1', port: 4000 },
      models,
      routing: { default_priority: 'balanced' },
    },
    realModels,
  };
}
