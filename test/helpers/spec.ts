import type { ModelSpec } from '../../src/config/model-spec.ts';
import type { CallOptions } from '../../src/providers/types.ts';

/** A ModelSpec with test defaults; override what the test is about. */
export function makeSpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return {
    name: 'test-model',
    provider: 'openai',
    baseUrl: 'http://127.0.0.1:1',
    apiKey: 'sk-test-secret-key',
    upstreamModel: 'test-model',
    strengths: [],
    inputCostPer1k: 0.001,
    outputCostPer1k: 0.002,
    cacheReadCostPer1k: 0.0005,
    cacheWriteCostPer1k: 0.001,
    weight: 100,
    quality: 5,
    contextWindow: 128_000,
    maxOutputTokens: 4096,
    configuredOutputTokens: undefined,
    capabilities: new Set(['chat', 'tools', 'json', 'streaming', 'vision']),
    fallbacks: [],
    timeouts: { connectMs: 2000, firstTokenMs: 5000, idleMs: 5000, totalMs: 10_000 },
    breaker: {
      failureThreshold: 5,
      recoveryTimeoutMs: 30_000,
      maxRecoveryTimeoutMs: 300_000,
      failureRate: 0.5,
      minRequests: 20,
      windowMs: 30_000,
      halfOpenMax: 1,
    },
    rpm: undefined,
    tpm: undefined,
    maxConcurrency: undefined,
    maxQueue: 0,
    headers: {},
    healthCheck: { enabled: false, intervalMs: 30_000 },
    providerOptions: undefined,
    ...overrides,
  };
}

export function callOptions(overrides: Partial<CallOptions> = {}): CallOptions {
  return {
    signal: new AbortController().signal,
    timeouts: { connectMs: 2000, firstTokenMs: 5000, idleMs: 5000, totalMs: 10_000 },
    requestId: 'req-test',
    ...overrides,
  };
}
