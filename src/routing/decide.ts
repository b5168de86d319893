/**
 * The routing decision: (features, model table, health, policy, random) -> primary model and
 * fallback chain, or NoRoute. Pure: no I/O, no clock, randomness only from the injected source.
 *
 * Steps: candidate set -> hard filters (each exclusion with a reason) -> score -> pick the primary
 * (weighted random among the near-top) -> chain (primary, its configured fallbacks, next-best).
 */
import type { ModelSpec, Strength } from '../config/model-spec.ts';
import type { Priority, TaskType } from '../config/schema.ts';
import type { RandomSource } from '../lib/random.ts';
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
/** Predictions equal to the floor up to rounding count as within it. */
const PREDICTION_EPSILON = 1e-12;

interface Rejection {
  model: string;
  reasons: string[];
  /** True when a reason is about the request (too long, missing capability, policy), false when the model is down. */
  requestSide: boolean;
  /** The only request-side reason is a context window too small for the prompt. */
  tooSmall?: boolean;
  /** At its rpm/tpm cap for this long. */
  cappedForMs?: number;
}

interface Candidate {
  spec: ModelSpec;
  health: ModelHealth | undefined;
}

/** A scored candidate: the public score, and the spec kept beside it (never in the decision: it holds the key). */
interface Ranked {
  score: ModelScore;
  spec: ModelSpec;
  /** 1 ranks before 0 whatever the scores: a strength match, or (with predictions) within the quality floor. */
  tier: number;
}

/**
 * Decides where a request goes. See the module comment for the steps.
 * @example decideRoute(features, models, health, { priority: 'cost', ... }, seededRandom(1)).model // 'gpt-4o-mini'
 */
export const decideRoute: DecideRoute = (features, models, health, policy, random) => {
  const { priority } = policy;
  const explicit = policy.explicitModel === undefined ? undefined : findSpec(models, policy.explicitModel);
  if (policy.explicitModel !== undefined && !explicit) {
    return noRoute(features.task, [
      { model: policy.explicitModel, reasons: ['not a configured model'], requestSide: true },
    ]);
  }
  const rejections: Rejection[] = [];
  const candidates: Candidate[] = [];
  const consider = (name: string, spec: ModelSpec | undefined) => {
    if (!spec) {
      rejections.push({ model: name, reasons: ['not a configured model'], requestSide: true });
      return;
    }
    const modelHealth = health.get(name);
    const rejection = filterModel(spec, modelHealth, features, policy);
    if (rejection) rejections.push(rejection);
    else candidates.push({ spec, health: modelHealth });
  };
  // Who may serve: a named model and its own fallbacks, else the rule's models in its order, else every model.
  const ruleModels = policy.explicitModel === undefined ? policy.rule?.models : undefined;
  if (explicit)
    for (const name of [explicit.name, ...explicit.fallbacks]) consider(name, findSpec(models, name));
  else if (ruleModels?.length) for (const name of ruleModels) consider(name, findSpec(models, name));
  else for (const spec of models) consider(spec.name, spec);
  if (candidates.length === 0) return noRoute(features.task, rejections);

  const { ranked, unpredicted } = rank(candidates, features, priority, policy);
  const { chain, balancedAmong } = buildChain(ranked, policy, explicit, random);
  const primary = findRanked(ranked, chain[0]!)!;
  const decision: RouteDecision = {
    model: primary.spec.name,
    fallbacks: chain.slice(1),
    task: features.task,
    priority,
    scores: ranked.map((entry) => entry.score),
    excluded: rejections.map(toExclusion),
    estimatedCostUsd: estimateCost(primary.spec, features),
    reason: '',
  };
  if (policy.rule) decision.rule = policy.rule.rule;
  decision.reason = describe(decision, features, primary.score, balancedAmong, policy, unpredicted);
  return decision;
};

function findSpec(models: readonly ModelSpec[], name: string): ModelSpec | undefined {
  for (const spec of models) if (spec.name === name) return spec;
  return undefined;
}

/** Hard filters: every reason a model cannot take this request now, or undefined if it can. */
function filterModel(
  spec: ModelSpec,
  health: ModelHealth | undefined,
  features: RequestFeatures,
  policy: RoutingPolicy,
): Rejection | undefined {
  const needed =
    features.promptTokens +
    (features.maxOutputTokens ?? Math.min(spec.maxOutputTokens, DEFAULT_OUTPUT_RESERVE));
  const capped = health?.cappedForMs;
  // Reasons are collected only for a model that is refused: the common case allocates nothing.
  let reasons: string[] | undefined;
  if (health?.breaker === 'open') reasons = withReason(reasons, 'breaker open');
  if (health?.outOfRotation) reasons = withReason(reasons, 'out of rotation (an operator took it out)');
  if (capped !== undefined)
    reasons = withReason(reasons, `at its rpm/tpm cap for ${Math.ceil(capped / 1000)}s`);
  const transient = reasons?.length ?? 0;
  if (policy.rule?.exclude?.includes(spec.name))
    reasons = withReason(reasons, `excluded by ${policy.rule.rule}`);
  if (policy.allowedModels !== undefined && !policy.allowedModels.has(spec.name)) {
    reasons = withReason(reasons, 'not allowed for this key');
  }
  if (!spec.capabilities.has('chat')) reasons = withReason(reasons, 'serves no chat (embeddings only)');
  const tooSmall = spec.contextWindow < needed;
  if (tooSmall) reasons = withReason(reasons, `context ${spec.contextWindow} < ${needed} tokens needed`);
  if (features.hasImages && !spec.capabilities.has('vision')) reasons = withReason(reasons, 'no vision');
  if (features.hasTools && !spec.capabilities.has('tools')) reasons = withReason(reasons, 'no tools');
  if (features.wantsJson && !spec.capabilities.has('json')) reasons = withReason(reasons, 'no json mode');
  if (features.stream && !spec.capabilities.has('streaming')) reasons = withReason(reasons, 'no streaming');
  if (!reasons) return undefined;
  return {
    model: spec.name,
    reasons,
    requestSide: reasons.length > transient,
    tooSmall: tooSmall && reasons.length === transient + 1,
    cappedForMs: capped,
  };
}

/** Adds a reason, making the list only for the first one (an eligible model allocates nothing). */
function withReason(reasons: string[] | undefined, reason: string): string[] {
  if (!reasons) return [reason];
  reasons.push(reason);
  return reasons;
}

function noRoute(task: TaskType, rejections: Rejection[]): NoRoute {
  const excluded = rejections.map(toExclusion);
  const list = excluded.map((entry) => `${entry.model} (${entry.reason})`).join(', ');
  // A 4xx only when no model could take it even if all were up; otherwise 503 (retry later).
  const requestProblem = rejections.length > 0 && rejections.every((rejection) => rejection.requestSide);
  const result: NoRoute = {
    model: undefined,
    task,
    excluded,
    reason: `no model can take this request: ${list || 'no models configured'}`,
    requestProblem,
    contextOverflow:
      requestProblem &&
      rejections.some((rejection) => rejection.tooSmall) &&
      rejections.every(
        (rejection) => rejection.tooSmall || rejection.reasons.includes('serves no chat (embeddings only)'),
      ),
  };
  // Not the request's fault, and some model is only at its cap: come back when the first admits again.
  const caps = rejections.filter(
    (rejection) => !rejection.requestSide && rejection.cappedForMs !== undefined,
  );
  if (!requestProblem && caps.length > 0)
    result.retryAfterMs = Math.min(...caps.map((cap) => cap.cappedForMs!));
  return result;
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
 * `balanced`: the weighted geometric mean of the normalised cost, speed and quality. It ranks models
 * by quality^wq / (price^wc * latency^ws), so the order of two models never depends on which other
 * models are in the pool (an arithmetic mean of best-relative ratios does), and a model 30x dearer
 * cannot buy its way back with slightly better quality. `quality` uses quality alone, so the two
 * differ whenever a cheaper or faster model is close in quality.
 */
function balancedScore(cost: number, speed: number, quality: number, policy: RoutingPolicy): number {
  const weights = policy.balancedWeights;
  const total = weights.cost + weights.speed + weights.quality;
  if (total <= 0) return 1;
  cost = Math.max(cost, COMPONENT_FLOOR);
  speed = Math.max(speed, COMPONENT_FLOOR);
  quality = Math.max(quality, COMPONENT_FLOOR);
  // Equal weights (the default): the plain geometric mean, one cube root instead of three logs and an exp.
  if (weights.cost === weights.speed && weights.speed === weights.quality)
    return Math.cbrt(cost * speed * quality);
  const log =
    weights.cost * Math.log(cost) + weights.speed * Math.log(speed) + weights.quality * Math.log(quality);
  return Math.exp(log / total);
}

/**
 * Scores every candidate and sorts best first: the first tier (matching models, or with predictions
 * those within the quality floor), then score, then weight, then name. Components are normalised
 * across the candidates, best = 1: cost = cheapest blended price / this price, speed = fastest
 * latency / this latency, quality = this quality / best quality, where quality is the learned
 * router's prediction when every candidate has one, else the configured quality.
 */
function rank(
  candidates: Candidate[],
  features: RequestFeatures,
  priority: Priority,
  policy: RoutingPolicy,
): { ranked: Ranked[]; unpredicted?: string } {
  const { task, predictedQuality } = features;
  let cheapest = Number.POSITIVE_INFINITY;
  let fastest = Number.POSITIVE_INFINITY;
  let best = 0;
  let bestPredicted = 0;
  let unpredicted: string | undefined;
  for (const candidate of candidates) {
    cheapest = Math.min(cheapest, blendedPrice(candidate.spec));
    fastest = Math.min(fastest, expectedLatency(candidate));
    best = Math.max(best, candidate.spec.quality);
    if (predictedQuality && unpredicted === undefined) {
      const predicted = predictedQuality[candidate.spec.name];
      if (predicted === undefined) unpredicted = candidate.spec.name;
      else bestPredicted = Math.max(bestPredicted, predicted);
    }
  }
  // Predictions rank only when they cover every candidate: a prediction and a configured quality are not on one scale.
  const predictions = unpredicted === undefined ? predictedQuality : undefined;
  const floor = bestPredicted - (policy.qualityFloor ?? Number.POSITIVE_INFINITY);
  const ranked: Ranked[] = [];
  for (const candidate of candidates) {
    const { spec } = candidate;
    const cost = (cheapest + PRICE_EPSILON) / (blendedPrice(spec) + PRICE_EPSILON);
    const speed = fastest / expectedLatency(candidate);
    const predicted = predictions?.[spec.name];
    const quality =
      predicted !== undefined
        ? bestPredicted > 0
          ? predicted / bestPredicted
          : 1
        : best > 0
          ? spec.quality / best
          : 1;
    const part =
      priority === 'cost'
        ? cost
        : priority === 'speed'
          ? speed
          : priority === 'quality'
            ? quality
            : balancedScore(cost, speed, quality, policy);
    const match = strengthMatch(spec, task);
    const health = healthFactor(candidate.health, policy);
    const modelScore: ModelScore = { model: spec.name, score: 0, match, health, cost, speed, quality };
    let tier: number;
    if (predicted === undefined) {
      modelScore.score = Math.max(match, MATCH_FLOOR) * health * part;
      tier = match > 0 ? 1 : 0;
    } else {
      // The prediction is about this prompt; the static strengths only about its task.
      modelScore.score = health * part;
      modelScore.predicted = predicted;
      modelScore.withinFloor = predicted >= floor - PREDICTION_EPSILON;
      tier = modelScore.withinFloor ? 1 : 0;
    }
    ranked.push({ score: modelScore, spec, tier });
  }
  const result: { ranked: Ranked[]; unpredicted?: string } = { ranked: insertionSort(ranked, compareRanked) };
  if (unpredicted !== undefined) result.unpredicted = unpredicted;
  return result;
}

/** Sorts in place. For the few dozen models of a pool, cheaper than Array.prototype.sort's call overhead. */
function insertionSort<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let j = i - 1;
    while (j >= 0 && compare(items[j]!, item) > 0) {
      items[j + 1] = items[j]!;
      j--;
    }
    items[j + 1] = item;
  }
  return items;
}

function compareRanked(a: Ranked, b: Ranked): number {
  const tier = b.tier - a.tier;
  if (tier !== 0) return tier;
  if (a.score.score !== b.score.score) return b.score.score - a.score.score;
  if (a.spec.weight !== b.spec.weight) return b.spec.weight - a.spec.weight;
  return a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0;
}

function findRanked(ranked: Ranked[], name: string): Ranked | undefined {
  for (const entry of ranked) if (entry.spec.name === name) return entry;
  return undefined;
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
  const floor = top.score.score * (1 - nearTop);
  let size = 0;
  let total = 0;
  while (size < ranked.length) {
    const entry = ranked[size]!;
    if (entry.tier !== top.tier || entry.score.score < floor) break;
    total += Math.max(0, entry.spec.weight);
    size++;
  }
  if (size < 2 || total <= 0) return { primary: top, pool: 1 };
  let draw = random() * total;
  for (let i = 0; i < size; i++) {
    draw -= Math.max(0, ranked[i]!.spec.weight);
    if (draw < 0) return { primary: ranked[i]!, pool: size };
  }
  return { primary: ranked[size - 1]!, pool: size };
}

/**
 * The chain, in order, without duplicates:
 * - a rule naming models: those that passed the filters, in the rule's order (the rule is the preference);
 * - an explicit model: it (if it passed), then its configured fallbacks that passed, and no other;
 * - otherwise: the weighted pick, its configured fallbacks, then `fallbackCount` next-best by score.
 */
function buildChain(
  ranked: Ranked[],
  policy: RoutingPolicy,
  explicit: ModelSpec | undefined,
  random: RandomSource,
): { chain: string[]; balancedAmong: number } {
  const chain: string[] = [];
  const add = (name: string) => {
    if (!chain.includes(name) && findRanked(ranked, name)) chain.push(name);
  };
  if (policy.explicitModel === undefined && policy.rule?.models?.length) {
    for (const name of policy.rule.models) add(name);
    return { chain, balancedAmong: 1 };
  }
  let balancedAmong = 1;
  if (explicit) {
    // A named model is answered by itself or its own fallbacks, in order, and by no other.
    add(explicit.name);
    for (const name of explicit.fallbacks) add(name);
    return { chain, balancedAmong };
  } else {
    const { primary, pool } = weightedPrimary(ranked, policy.nearTop, random);
    balancedAmong = pool;
    add(primary.spec.name);
    for (const name of primary.spec.fallbacks) add(name);
  }
  let nextBest = 0;
  for (const entry of ranked) {
    const name = entry.spec.name;
    if (chain.includes(name)) continue;
    if (chain.length > 0 && nextBest >= policy.fallbackCount) break;
    if (chain.length > 0) nextBest++;
    chain.push(name);
  }
  return { chain, balancedAmong };
}

function estimateCost(spec: ModelSpec, features: RequestFeatures): number {
  const output = features.maxOutputTokens ?? DEFAULT_EXPECTED_OUTPUT;
  return (features.promptTokens / 1000) * spec.inputCostPer1k + (output / 1000) * spec.outputCostPer1k;
}

/**
 * Two decimals, exactly as toFixed(2) writes them, in about a third of its time (a reason holds
 * five or more). toFixed rounds the value's exact binary decimal (0.015 is 0.01499…, so "0.01"),
 * where `value * 100` may land on the other side of a half: within 1e-7 of one, and outside
 * [0, 1e6) (where the product's error could reach that), toFixed itself decides.
 */
export function fixed(value: number): string {
  if (!(value >= 0 && value < 1e6)) return value.toFixed(2);
  const scaled = value * 100;
  if (Math.abs(scaled - Math.floor(scaled) - 0.5) < 1e-7) return value.toFixed(2);
  const hundredths = Math.round(scaled);
  const fraction = hundredths % 100;
  return `${(hundredths - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction}`;
}

/** One line: task and why, priority, the primary's score and parts, how it was picked, fallbacks, exclusions. */
function describe(
  decision: RouteDecision,
  features: RequestFeatures,
  primary: ModelScore,
  balancedAmong: number,
  policy: RoutingPolicy,
  unpredicted: string | undefined,
): string {
  let head = `task ${features.task} (${features.taskReason}), priority ${decision.priority}`;
  if (decision.rule) head += `, rule ${decision.rule}`;
  head +=
    `: ${primary.model} scored ${fixed(primary.score)} (match ${fixed(primary.match)}, cost ${fixed(primary.cost)}, ` +
    `speed ${fixed(primary.speed)}, quality ${fixed(primary.quality)}` +
    (primary.predicted !== undefined ? `, predicted ${fixed(primary.predicted)}` : '') +
    (primary.health < 1 ? `, health ${fixed(primary.health)})` : ')');
  if (primary.predicted !== undefined) {
    const below = decision.scores.filter((score) => score.withinFloor === false).length;
    head += `, learned router (quality floor ${fixed(policy.qualityFloor ?? 0)}${below > 0 ? `, ${below} below it` : ''})`;
  } else if (unpredicted !== undefined) {
    head += `, learned router off (${unpredicted} has no router label)`;
  }
  if (policy.explicitModel !== undefined) {
    head +=
      primary.model === policy.explicitModel ? ', as requested' : `, ${policy.explicitModel} unavailable`;
  } else if (balancedAmong > 1) {
    head += `, weighted pick among ${balancedAmong} near-top`;
  }
  const parts = [head];
  parts.push(decision.fallbacks.length > 0 ? `fallbacks ${decision.fallbacks.join(', ')}` : 'no fallbacks');
  if (decision.excluded.length > 0) {
    parts.push(`excluded ${decision.excluded.map((entry) => `${entry.model} (${entry.reason})`).join(', ')}`);
  }
  return parts.join('; ');
}
