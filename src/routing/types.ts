/**
 * The routing core's inputs and output. The decision is a pure function of these:
 * (features, model table, health snapshot, policy, random source) -> decision.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { Priority, TaskType } from '../config/schema.ts';
import type { RandomSource } from '../lib/random.ts';

/** What the analyser learned about one request. */
export interface RequestFeatures {
  task: TaskType;
  /** Why this task (e.g. "image part", "code fence", "rule sql-to-gpt4o"). */
  taskReason: string;
  promptTokens: number;
  /** True when the count was extrapolated from a sample (very long prompts). */
  tokensEstimated: boolean;
  /** Output tokens the client asked for (max_completion_tokens ?? max_tokens), if any. */
  maxOutputTokens: number | undefined;
  hasImages: boolean;
  hasTools: boolean;
  wantsJson: boolean;
  /** The request ends with an assistant message (prefill). */
  hasPrefill: boolean;
  /** The client asked for a stream. */
  stream: boolean;
  /**
   * The learned router's P(a good answer to this prompt) per model name, when one is configured and
   * applies to this request. With it, predicted quality replaces static strengths and quality.
   */
  predictedQuality?: Readonly<Record<string, number>>;
}

/** The result of the first custom rule that matched, if any. */
export interface RuleMatch {
  rule: string;
  task?: TaskType;
  /** Candidate models named by the rule, in order of preference. */
  models?: string[];
  exclude?: string[];
  priority?: Priority;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** What the gateway currently knows about one model's health. */
export interface ModelHealth {
  breaker: BreakerState;
  /** False when the model is up but degraded or marked unhealthy (bad key, failed probe). */
  healthy: boolean;
  /** Observed latency to the first token (EWMA), ms; undefined before any data. */
  latencyMs?: number;
  /** True when it is busy: concurrency limit reached, cooling down after a 429, or the upstream says it is nearly out of budget. */
  saturated?: boolean;
  /** Set while its rpm/tpm cap admits nothing: ms until it may again. A hard filter. */
  cappedForMs?: number;
  /** An operator took it out of rotation. A hard filter. */
  outOfRotation?: boolean;
}

export interface HealthSnapshot {
  get(model: string): ModelHealth | undefined;
}

export interface RoutingPolicy {
  /** Already resolved from the request, its header, a rule and the default (`gateway/plan.ts`). */
  priority: Priority;
  /** Weights of the three components in `balanced`. */
  balancedWeights: { cost: number; speed: number; quality: number };
  /** Next-best models added to the chain after the primary (and its own fallbacks). */
  fallbackCount: number;
  /** Candidates within this share of the top score are load-balanced by weight. */
  nearTop: number;
  /** Health factor for a degraded model (the brief's 0.3). */
  unhealthyFactor: number;
  /** A model the client named (not `auto`): it, then its own `fallbacks`, and no other model. */
  explicitModel?: string;
  /** The models the client's key may use; others are excluded. Absent: every model. */
  allowedModels?: ReadonlySet<string>;
  /**
   * With predicted quality: a model whose prediction is more than this below the best candidate's
   * ranks after every model within it (so `cost` is the cheapest model that loses at most this much).
   */
  qualityFloor?: number;
  rule?: RuleMatch;
}

export interface ModelScore {
  model: string;
  score: number;
  /** Share of the task's required strengths the model has (0-1). */
  match: number;
  health: number;
  /** Normalised 0-1 components (higher is better). */
  cost: number;
  speed: number;
  quality: number;
  /** The learned router's P(a good answer), when it scored this request. */
  predicted?: number;
  /** False for a model more than the quality floor below the best prediction. */
  withinFloor?: boolean;
}

export interface Exclusion {
  model: string;
  reason: string;
}

export interface RouteDecision {
  /** The primary model. */
  model: string;
  /** Models to try after the primary, in order. */
  fallbacks: string[];
  task: TaskType;
  priority: Priority;
  scores: ModelScore[];
  excluded: Exclusion[];
  /** USD, for the primary, prompt tokens plus expected output. */
  estimatedCostUsd: number;
  /** One human-readable line. */
  reason: string;
  rule?: string;
  /** True when the primary was an exploration pick (the bandit), not the best score. */
  explored?: boolean;
}

/** No model can take the request; `excluded` says why for each. */
export interface NoRoute {
  model: undefined;
  task: TaskType;
  excluded: Exclusion[];
  reason: string;
  /** True when every exclusion is about the request itself (too long, needs vision): a 4xx. */
  requestProblem: boolean;
  /** Every candidate's context window is too small for the prompt (a 400 `context_length_exceeded`). */
  contextOverflow: boolean;
  /** Every model that could take it is at its rpm/tpm cap: ms until one admits again (a 429). */
  retryAfterMs?: number;
}

export type DecideRoute = (
  features: RequestFeatures,
  models: readonly ModelSpec[],
  health: HealthSnapshot,
  policy: RoutingPolicy,
  random: RandomSource,
) => RouteDecision | NoRoute;
