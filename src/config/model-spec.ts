import type { Capability } from './schema.ts';

export type Strength =
  | 'complex_reasoning'
  | 'coding'
  | 'creative_writing'
  | 'long_context'
  | 'analysis'
  | 'document_qa'
  | 'multimodal'
  | 'vision'
  | 'realtime'
  | 'simple_qa'
  | 'classification';

/** One model deployment, normalised from the config: milliseconds, USD per 1k tokens, sets. */
export interface ModelSpec {
  /** The name clients use (the config key). */
  name: string;
  provider: string;
  baseUrl: string | undefined;
  /** Secret. Never logged, never in errors, metrics or the dashboard. */
  apiKey: string | undefined;
  /** The model id sent upstream. */
  upstreamModel: string;
  strengths: readonly Strength[];
  inputCostPer1k: number;
  outputCostPer1k: number;
  /** Input tokens read from / written to the provider's prompt cache, USD per 1k. */
  cacheReadCostPer1k: number;
  cacheWriteCostPer1k: number;
  weight: number;
  /** Quality tier 0-10 (from config, else derived from weight). */
  quality: number;
  /** Context window in tokens. */
  contextWindow: number;
  /** Output tokens requested when the client sets none. */
  maxOutputTokens: number;
  /** `max_output_tokens` as configured: every adapter sends it when the client sets no limit. */
  configuredOutputTokens: number | undefined;
  capabilities: ReadonlySet<Capability>;
  fallbacks: readonly string[];
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; totalMs: number };
  breaker: {
    failureThreshold: number;
    recoveryTimeoutMs: number;
    maxRecoveryTimeoutMs: number;
    failureRate: number;
    minRequests: number;
    windowMs: number;
    halfOpenMax: number;
  };
  rpm: number | undefined;
  tpm: number | undefined;
  maxConcurrency: number | undefined;
  maxQueue: number;
  headers: Readonly<Record<string, string>>;
  healthCheck: { enabled: boolean; intervalMs: number };
  /** Provider-specific settings (the simulated provider's `simulate:`), validated by that provider's schema. */
  providerOptions: unknown;
}
