/**
 * The routing decision: (features, model table, health, policy, random) -> primary model and
 * fallback chain, or NoRoute. Pure: no I/O, no clock, randomness only from the injected source.
 *
 * Steps: candidate set -> hard filters (each exclusion with a reason) -> score -> pick the primary
 * (weighted random among the near-top) -> chain (primary, its configured fallbacks, next-best).
 */
import type { ModelSpec, Strength } from '../config/model-spec.ts';
import type { Priority, TaskType } from '../config/schema.ts';
import type { RandomSource } from './random.ts';
import type {
  DecideRoute,
  Exclusion,
  ModelHealth,
  ModelScore,
  NoRoute,
  RequestFeatures,
  RouteDecision,
  RoutingPolicy,
} from './types.ts';

/** The brief's task -> required strengths table. */
export const TASK_STRENGTHS: Readonly<Record<TaskType, readonly Strength[]>> = {
  simple_qa: ['simple_qa', 'classification'],
  coding: ['coding', 'complex_reasoning'],
  long_context: ['long_context', 'analysis'],
  multimodal: ['multimodal', 'vision'],
  creative_writing: ['creative_writing', 'complex_reasoning'],
};

/** Match used in the score of a model with none of the strengths: it can still serve, never ahead of a matching one. */
const MATCH_FLOOR = 0.05;
/** Health factor multiplier for a model whose rate or concurrency budget is used up now. */
const SATURATED_FACTOR = 0.5;
/** Output tokens reserved in the context-window check when the client sets no limit. */
const DEFAULT_OUTPUT_RESERVE = 1024;
/** Output tokens assumed for the cost estimate when the client sets no limit (a typical chat answer). */
const DEFAULT_EXPECTED_OUTPUT = 256;
/** Keeps a free model's price and a zero component finite (ratios and logarithms). */
const PRICE_EPSILON = 1e-9;
const COMPONENT_FLOOR = 1e-6;

interface Rejection {
  model: string;
  reasons: string[];
  /** True when a reason is about the request (too long, missing capability, policy), false when the model is down. */
  requestSide: boolean;
}

interface Candidate {
  spec: ModelSpec;
  health: ModelHealth | undefined;
}

interface Ranked extends ModelScore {
  spec: ModelSpec;
}

const specIndexCache = new WeakMap<readonly ModelSpec[], Map<string, ModelSpec>>();

/** The model table by name, built once per table (the gateway passes the same array every time). */
function specIndex(models: readonly ModelSpec[]): Map<string, ModelSpec> {
  let index = specIndexCache.get(models);
  if (!index) {
    index = new Map(models.map((spec) => [spec.name, spec]));
    specIndexCache.set(models, index);
  }
  return index;
}

/**
 * Decides where a request goes. See the module comment for the steps.
 * @example decideRoute(features, models, health, { priority: 'cost', ... }, seededRandom(1)).model // 'gpt-4o-mini'
 */
export const decideRoute: DecideRoute = (features, models, health, policy, random) => {
  const priority = policy.rule?.priority ?? policy.priority;
  const index = specIndex(models);
  if (policy.explicitModel !== undefined && !index.has(policy.explicitModel)) {
    const unknown = { model: policy.explicitModel, reasons: ['not a configured model'], requestSide: true };
    return noRoute(features.task, [unknown]);
  }
  const names = candidateNames(models, policy);
  const rejections: Rejection[] = [];
  const candidates: Candidate[] = [];
  for (const name of names) {
    const spec = index.get(name);
    const modelHealth = health.get(name);
    const rejection = spec
      ? filterModel(spec, modelHealth, features, policy)
      : { model: name, reasons: ['not a configured model'], requestSide: true };
    if (rejection) rejections.push(rejection);
    else if (spec) candidates.push({ spec, health: modelHealth });
  }
  if (candidates.length === 0) return noRoute(features.task, rejections);

  const ranked = rank(candidates, features.task, priority, policy);
  const { chain, balancedAmong } = buildChain(ranked, policy, index, random);
  const primary = ranked.find((entry) => entry.model === chain[0])!;
  const excluded = rejections.map(toExclusion);
  const decision: RouteDecision = {
    model: primary.model,
    fallbacks: chain.slice(1),
    task: features.task,
    priority,
    scores: ranked.map(toModelScore),
    excluded,
    estimatedCostUsd: estimateCost(primary.spec, features),
    reason: '',
  };
  if (policy.rule) decision.rule = policy.rule.rule;
  decision.reason = describe(decision, features, primary, balancedAmong, policy);
  return decision;
};

/** Who may serve: the named model and all others (explicit), the rule's models in order, or the whole table. */
function candidateNames(models: readonly ModelSpec[], policy: RoutingPolicy): string[] {
  if (policy.explicitModel === undefined && policy.rule?.models?.length) return [...policy.rule.models];
  return models.map((spec) => spec.name);
}

/** Hard filters: every reason a model cannot take this request now, or undefined if it can. */
function filterModel(
  spec: ModelSpec,
  health: ModelHealth | undefined,
  features: RequestFeatures,
  policy: RoutingPolicy,
): Rejection | undefined {
  const request: string[] = [];
  const down: string[] = [];
  if (policy.rule?.exclude?.includes(spec.name)) request.push(`excluded by ${policy.rule.rule}`);
  if (health?.breaker === 'open') down.push('breaker open');
  const needed =
    features.promptTokens +
    (features.maxOutputTokens ?? Math.min(spec.maxOutputTokens, DEFAULT_OUTPUT_RESERVE));
  if (spec.contextWindow < needed) request.push(`context ${spec.contextWindow} < ${needed} tokens needed`);
  if (features.hasImages && !spec.capabilities.has('vision')) request.push('no vision');
  if (features.hasTools && !spec.capabilities.has('tools')) request.push('no tools');
  if (features.wantsJson && !spec.capabilities.has('json')) request.push('no json mode');
  if (request.length === 0 && down.length === 0) return undefined;
  return { model: spec.name, reasons: [...down, ...request], requestSide: request.length > 0 };
}

function noRoute(task: TaskType, rejections: Rejection[]): NoRoute {
  const excluded = rejections.map(toExclusion);
  const list = excluded.map((entry) => `${entry.model} (${entry.reason})`).join(', ');
  return {
    model: undefined,
    task,
    excluded,
    reason: `no model can take this request: ${list || 'no models configured'}`,
    // A 4xx only when no model could take it even if all were up; otherwise 503 (retry later).
    requestProblem: rejections.length > 0 && rejections.every((rejection) => rejection.requestSide),
  };
}

const toExclusion = (rejection: Rejection): Exclusion => ({
  model: rejection.model,
  reason: rejection.reasons.join(', '),
});

/** Share of the task's required strengths the model has. */
function strengthMatch(spec: ModelSpec, task: TaskType): number {
  const required = TASK_STRENGTHS[task];
  let have = 0;
  for (const strength of required) if (spec.strengths.includes(strength)) have++;
  return have / required.length;
}

/** 1 when healthy; the unhealthy factor when degraded or half-open; halved again when saturated. */
function healthFactor(health: ModelHealth | undefined, policy: RoutingPolicy): number {
  if (!health) return 1;
  const base = health.healthy && health.breaker === 'closed' ? 1 : policy.unhealthyFactor;
  return health.saturated ? base * SATURATED_FACTOR : base;
}

const blendedPrice = (spec: ModelSpec) => spec.inputCostPer1k + spec.outputCostPer1k;

/** Observed latency to the first token; before any data, the configured first-token timeout. */
const expectedLatency = (candidate: Candidate) =>
  Math.max(1, candidate.health?.latencyMs ?? candidate.spec.timeouts.firstTokenMs);

/**
 * The priority's part of the score, from components normalised across the candidates (best = 1).
 * `balanced` is the weighted geometric mean of cost, speed and quality: it ranks models by
 * quality^wq / (price^wc * latency^ws), so the order of two models never depends on which other
 * models are in the pool (an arithmetic mean of min/max-relative ratios does), and a model that is
 * 30x dearer cannot buy its way back with a slightly better quality. `quality` uses quality alone,
 * so the two differ whenever a cheaper or faster model is close in quality.
 */
function priorityScore(
  components: { cost: number; speed: number; quality: number },
  priority: Priority,
  policy: RoutingPolicy,
): number {
  if (priority !== 'balanced') return components[priority];
  const { cost, speed, quality } = policy.balancedWeights;
  const total = cost + speed + quality;
  if (total <= 0) return 1;
  const log =
    cost * Math.log(Math.max(components.cost, COMPONENT_FLOOR)) +
    speed * Math.log(Math.max(components.speed, COMPONENT_FLOOR)) +
    quality * Math.log(Math.max(components.quality, COMPONENT_FLOOR));
  return Math.exp(log / total);
}

/** Scores every candidate and sorts best first: matching models, then score, then weight, then name. */
function rank(candidates: Candidate[], task: TaskType, priority: Priority, policy: RoutingPolicy): Ranked[] {
  let cheapest = Number.POSITIVE_INFINITY;
  let fastest = Number.POSITIVE_INFINITY;
  let best = 0;
  for (const candidate of candidates) {
    cheapest = Math.min(cheapest, blendedPrice(candidate.spec));
    fastest = Math.min(fastest, expectedLatency(candidate));
    best = Math.max(best, candidate.spec.quality);
  }
  const ranked = candidates.map((candidate): Ranked => {
    const { spec } = candidate;
    const components = {
      cost: (cheapest + PRICE_EPSILON) / (blendedPrice(spec) + PRICE_EPSILON),
      speed: fastest / expectedLatency(candidate),
      quality: best > 0 ? spec.quality / best : 1,
    };
    const match = strengthMatch(spec, task);
    const health = healthFactor(candidate.health, policy);
    const score = Math.max(match, MATCH_FLOOR) * health * priorityScore(components, priority, policy);
    return { model: spec.name, spec, score, match, health, ...components };
  });
  return ranked.sort(compareRanked);
}

function compareRanked(a: Ranked, b: Ranked): number {
  const tier = Number(b.match > 0) - Number(a.match > 0);
  if (tier !== 0) return tier;
  if (a.score !== b.score) return b.score - a.score;
  if (a.spec.weight !== b.spec.weight) return b.spec.weight - a.spec.weight;
  return a.model < b.model ? -1 : a.model > b.model ? 1 : 0;
}

/**
 * Load balancing: the models scoring within `nearTop` of the best (same tier, bounds included, so
 * exact ties always share) split traffic in proportion to their weight — one draw from the injected
 * random source — instead of the top score always winning. With one such model, or all weights 0,
 * the best is taken without a draw.
 */
function weightedPrimary(
  ranked: Ranked[],
  nearTop: number,
  random: RandomSource,
): { primary: Ranked; pool: number } {
  const top = ranked[0]!;
  const floor = top.score * (1 - nearTop);
  const pool: Ranked[] = [];
  for (const entry of ranked) {
    if (entry.match > 0 !== top.match > 0 || entry.score < floor) break;
    pool.push(entry);
  }
  const total = pool.reduce((sum, entry) => sum + Math.max(0, entry.spec.weight), 0);
  if (pool.length < 2 || total <= 0) return { primary: top, pool: 1 };
  let draw = random() * total;
  for (const entry of pool) {
    draw -= Math.max(0, entry.spec.weight);
    if (draw < 0) return { primary: entry, pool: pool.length };
  }
  return { primary: pool[pool.length - 1]!, pool: pool.length };
}

/**
 * The chain, in order, without duplicates:
 * - a rule naming models: those that passed the filters, in the rule's order (the rule is the preference);
 * - an explicit model: it (if it passed), its configured fallbacks, then `fallbackCount` next-best;
 * - otherwise: the weighted pick, its configured fallbacks, then `fallbackCount` next-best by score.
 */
function buildChain(
  ranked: Ranked[],
  policy: RoutingPolicy,
  index: Map<string, ModelSpec>,
  random: RandomSource,
): { chain: string[]; balancedAmong: number } {
  const passed = new Set(ranked.map((entry) => entry.model));
  if (policy.explicitModel === undefined && policy.rule?.models?.length) {
    return { chain: policy.rule.models.filter((name) => passed.has(name)), balancedAmong: 1 };
  }
  const chain: string[] = [];
  const add = (name: string) => {
    if (passed.has(name) && !chain.includes(name)) chain.push(name);
  };
  let balancedAmong = 1;
  if (policy.explicitModel !== undefined) {
    add(policy.explicitModel);
    index.get(policy.explicitModel)?.fallbacks.forEach(add);
  } else {
    const { primary, pool } = weightedPrimary(ranked, policy.nearTop, random);
    balancedAmong = pool;
    add(primary.model);
    primary.spec.fallbacks.forEach(add);
  }
  let nextBest = 0;
  for (const entry of ranked) {
    if (chain.includes(entry.model)) continue;
    if (chain.length > 0 && nextBest >= policy.fallbackCount) break;
    // An explicit model that failed the filters (and its fallbacks) leaves the chain empty: the best takes its place.
    if (chain.length > 0) nextBest++;
    chain.push(entry.model);
  }
  return { chain, balancedAmong };
}

function estimateCost(spec: ModelSpec, features: RequestFeatures): number {
  const output = features.maxOutputTokens ?? DEFAULT_EXPECTED_OUTPUT;
  return (features.promptTokens / 1000) * spec.inputCostPer1k + (output / 1000) * spec.outputCostPer1k;
}

function toModelScore(entry: Ranked): ModelScore {
  return {
    model: entry.model,
    score: entry.score,
    match: entry.match,
    health: entry.health,
    cost: entry.cost,
    speed: entry.speed,
    quality: entry.quality,
  };
}

const fixed = (value: number) => value.toFixed(2);

/** One line: task and why, priority, the primary's score and parts, how it was picked, fallbacks, exclusions. */
function describe(
  decision: RouteDecision,
  features: RequestFeatures,
  primary: Ranked,
  balancedAmong: number,
  policy: RoutingPolicy,
): string {
  const parts = [`task ${features.task} (${features.taskReason}), priority ${decision.priority}`];
  if (decision.rule) parts[0] += `, rule ${decision.rule}`;
  parts[0] +=
    `: ${primary.model} scored ${fixed(primary.score)} (match ${fixed(primary.match)}, cost ${fixed(primary.cost)}, ` +
    `speed ${fixed(primary.speed)}, quality ${fixed(primary.quality)}` +
    (primary.health < 1 ? `, health ${fixed(primary.health)})` : ')');
  if (policy.explicitModel !== undefined) {
    parts[0] +=
      primary.model === policy.explicitModel ? ', as requested' : `, ${policy.explicitModel} unavailable`;
  } else if (balancedAmong > 1) {
    parts[0] += `, weighted pick among ${balancedAmong} near-top`;
  }
  parts.push(decision.fallbacks.length > 0 ? `fallbacks ${decision.fallbacks.join(', ')}` : 'no fallbacks');
  if (decision.excluded.length > 0) {
    parts.push(`excluded ${decision.excluded.map((entry) => `${entry.model} (${entry.reason})`).join(', ')}`);
  }
  return parts.join('; ');
}
