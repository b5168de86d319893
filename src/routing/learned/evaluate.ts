/**
 * Router evaluation: k-fold cross-validation of the quality model as a two-model router.
 *
 * Each fold in turn is held out: the model is trained on the other folds and scores the held-out
 * prompts; a prompt goes to the strong model when its score (by default the predicted gain
 * P(strong) - P(weak)) is above a threshold. Sweeping the threshold over the pooled held-out scores
 * gives the cost-quality curve: share of strong calls against mean correctness, where a prompt's
 * correctness is that of the model it was routed to. Folds are drawn by a seeded shuffle of the
 * distinct prompts, so a prompt that appears twice never sits on both sides.
 *
 * Random routing (each prompt to the strong model with probability s) has quality
 * (1 - s) * q_weak + s * q_strong, so it reaches a fraction f of the strong model's quality at
 * s* = (f * q_strong - q_weak) / (q_strong - q_weak), clamped to [0, 1].
 */
import { type RandomSource, seededRandom } from '../../lib/random.ts';
import {
  DEFAULT_TRAIN_OPTIONS,
  type PreparedRows,
  shuffle,
  type TrainOptions,
  trainPrepared,
  tuneTrainOptions,
  type ValidationLoss,
} from './train.ts';

/** How a prompt's predictions become a routing score (higher: more worth the strong model). */
export type RoutingScore = 'gain' | 'weak-failure';

export interface CurvePoint {
  /** Share of prompts sent to the strong model. */
  strongShare: number;
  /** Mean correctness when routed this way. */
  quality: number;
  /** Prompts scoring at least this go to the strong model (Infinity at share 0). */
  threshold: number;
}

export interface EvaluationOptions {
  folds: number;
  seed: number;
  /** Training options (their seed is derived from `seed` per fold). */
  train: Partial<TrainOptions>;
  score: RoutingScore;
  /** Fraction of the strong model's quality to reach (0.95). */
  qualityFraction: number;
  /**
   * Choose the learning rate per fold on that fold's training rows alone (`tuneTrainOptions` with
   * `routingCurveLoss`). Off by default: on MMLU the choice made on a 20% validation share varied
   * from fold to fold and did worse than the default rate.
   */
  tune: boolean;
}

export const DEFAULT_EVALUATION_OPTIONS: Readonly<EvaluationOptions> = Object.freeze({
  folds: 5,
  seed: 1,
  train: {},
  score: 'gain',
  qualityFraction: 0.95,
  tune: false,
});

export interface RouterEvaluation {
  /** Prompts evaluated (both labels known). */
  rows: number;
  folds: number;
  seed: number;
  weakQuality: number;
  strongQuality: number;
  targetQuality: number;
  /** Smallest share of strong calls on the curve that reaches `targetQuality`. */
  strongShareForTarget: number;
  /** The same for random routing (closed form). */
  randomShareForTarget: number;
  /** Best possible: only prompts the weak model gets wrong and the strong one right go strong. */
  oracleShareForTarget: number;
  /** The whole curve: point k sends the k best-scoring prompts to the strong model. */
  curve: CurvePoint[];
  /** The learning rate each fold trained with (chosen on its training rows when tuning). */
  foldAlphas: number[];
  /** Out-of-fold routing score per evaluated prompt, in row order. */
  scores: Float64Array;
  trainingMs: number;
}

/** Fold of each row: distinct texts shuffled by `seed`, dealt round-robin; equal texts share a fold. */
export function assignFolds(texts: readonly string[], folds: number, seed: number): Int32Array {
  if (!Number.isInteger(folds) || folds < 2) throw new Error('folds must be an integer of at least 2');
  const distinct = new Map<string, number>();
  for (const text of texts) if (!distinct.has(text)) distinct.set(text, distinct.size);
  if (distinct.size < folds) throw new Error(`need at least ${folds} distinct prompts for ${folds} folds`);
  const order = Int32Array.from({ length: distinct.size }, (_, i) => i);
  shuffle(order, seededRandom(seed));
  const foldOfDistinct = new Int32Array(distinct.size);
  order.forEach((distinctIndex, position) => {
    foldOfDistinct[distinctIndex] = position % folds;
  });
  return Int32Array.from(texts, (text) => foldOfDistinct[distinct.get(text)!]!);
}

/**
 * The cost-quality curve of routing by `scores` (higher goes strong first; ties broken by row
 * order): point k routes the k best-scoring prompts to the strong model. `weak`/`strong` hold each
 * prompt's correctness (0..1).
 */
export function costQualityCurve(
  scores: ArrayLike<number>,
  weak: ArrayLike<number>,
  strong: ArrayLike<number>,
): CurvePoint[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  let total = 0;
  for (let i = 0; i < n; i++) total += weak[i]!;
  const curve: CurvePoint[] = [{ strongShare: 0, quality: n === 0 ? 0 : total / n, threshold: Infinity }];
  for (let k = 0; k < n; k++) {
    const row = order[k]!;
    total += strong[row]! - weak[row]!;
    curve.push({ strongShare: (k + 1) / n, quality: total / n, threshold: scores[row]! });
  }
  return curve;
}

/** The smallest strong share on `curve` whose quality reaches `target` (1 if none does). */
export function strongShareFor(curve: readonly CurvePoint[], target: number): number {
  // A relative tolerance, so a quality equal to the target up to rounding counts as reaching it.
  const reach = target - 1e-12 * Math.max(1, Math.abs(target));
  for (const point of curve) if (point.quality >= reach) return point.strongShare;
  return 1;
}

/** Random routing's share of strong calls for `fraction` of the strong model's quality (closed form). */
export function randomRoutingShare(weakQuality: number, strongQuality: number, fraction = 0.95): number {
  const target = fraction * strongQuality;
  if (weakQuality >= target) return 0;
  if (strongQuality <= weakQuality) return 1;
  return Math.min(1, Math.max(0, (target - weakQuality) / (strongQuality - weakQuality)));
}

/**
 * Random routing simulated: each trial gives every prompt a random score and reads the share off the
 * curve. The mean over many trials converges to `randomRoutingShare` (a test checks it).
 */
export function simulateRandomRouting(
  weak: ArrayLike<number>,
  strong: ArrayLike<number>,
  trials: number,
  random: RandomSource,
  fraction = 0.95,
): number {
  const n = weak.length;
  let strongTotal = 0;
  for (let i = 0; i < n; i++) strongTotal += strong[i]!;
  const target = (fraction * strongTotal) / n;
  let sum = 0;
  for (let trial = 0; trial < trials; trial++) {
    const scores = Float64Array.from({ length: n }, () => random());
    sum += strongShareFor(costQualityCurve(scores, weak, strong), target);
  }
  return sum / trials;
}

/** Routing score of one prompt from its two predicted probabilities. */
export function routingScore(
  score: RoutingScore,
  weakProbability: number,
  strongProbability: number,
): number {
  return score === 'gain' ? strongProbability - weakProbability : 1 - weakProbability;
}

/**
 * A validation loss for tuning a router: minus the mean quality along the cost-quality curve of
 * routing the validation rows (those with both labels) by `score`. On fixed rows this ranks
 * candidates as RouteLLM's APGR (average performance gap recovered) does, and it weighs the whole
 * curve, so it is steadier on a few thousand rows than the single share at 95%.
 */
export function routingCurveLoss(
  weakLabel: string,
  strongLabel: string,
  score: RoutingScore = 'gain',
): ValidationLoss {
  return (model, prepared, validation) => {
    const labelCount = prepared.labels.length;
    const weakAt = prepared.labels.indexOf(weakLabel);
    const strongAt = prepared.labels.indexOf(strongLabel);
    const scores: number[] = [];
    const weak: number[] = [];
    const strong: number[] = [];
    for (const row of validation) {
      const weakTarget = prepared.targets[row * labelCount + weakAt]!;
      const strongTarget = prepared.targets[row * labelCount + strongAt]!;
      if (Number.isNaN(weakTarget) || Number.isNaN(strongTarget)) continue;
      const probabilities = model.predictFeatures(prepared.features[row]!);
      scores.push(routingScore(score, probabilities[weakAt]!, probabilities[strongAt]!));
      weak.push(weakTarget);
      strong.push(strongTarget);
    }
    const curve = costQualityCurve(scores, weak, strong);
    return -curve.reduce((sum, point) => sum + point.quality, 0) / curve.length;
  };
}

/**
 * k-fold cross-validation of the router on `prepared` rows (`texts` are their prompts, for the fold
 * assignment). Deterministic for a given seed.
 */
export function crossValidate(
  prepared: PreparedRows,
  texts: readonly string[],
  weakLabel: string,
  strongLabel: string,
  options: Partial<EvaluationOptions> = {},
): RouterEvaluation {
  const { folds, seed, train, score, qualityFraction, tune } = { ...DEFAULT_EVALUATION_OPTIONS, ...options };
  const labelCount = prepared.labels.length;
  const weakAt = prepared.labels.indexOf(weakLabel);
  const strongAt = prepared.labels.indexOf(strongLabel);
  if (weakAt < 0 || strongAt < 0)
    throw new Error('the weak and strong labels must be among the prepared labels');
  const foldOf = assignFolds(texts, folds, seed);
  const rowCount = prepared.features.length;
  const evaluated: number[] = [];
  for (let r = 0; r < rowCount; r++) {
    const known = (l: number) => !Number.isNaN(prepared.targets[r * labelCount + l]!);
    if (known(weakAt) && known(strongAt)) evaluated.push(r);
  }
  if (evaluated.length === 0) throw new Error(`no prompt has both a ${weakLabel} and a ${strongLabel} value`);
  const scoreOfRow = new Float64Array(rowCount);
  const foldAlphas: number[] = [];
  const tuningLoss = routingCurveLoss(weakLabel, strongLabel, score);
  const started = performance.now();
  for (let fold = 0; fold < folds; fold++) {
    const trainRows: number[] = [];
    for (let r = 0; r < rowCount; r++) if (foldOf[r] !== fold) trainRows.push(r);
    let foldOptions: Partial<TrainOptions> = { ...DEFAULT_TRAIN_OPTIONS, ...train, seed: seed * 1000 + fold };
    if (tune) foldOptions = tuneTrainOptions(prepared, trainRows, foldOptions, { loss: tuningLoss }).options;
    foldAlphas.push(foldOptions.alpha ?? DEFAULT_TRAIN_OPTIONS.alpha);
    const model = trainPrepared(prepared, foldOptions, trainRows);
    for (const r of evaluated) {
      if (foldOf[r] !== fold) continue;
      const probabilities = model.predictFeatures(prepared.features[r]!);
      scoreOfRow[r] = routingScore(score, probabilities[weakAt]!, probabilities[strongAt]!);
    }
  }
  const trainingMs = performance.now() - started;
  const weak = Float64Array.from(evaluated, (r) => prepared.targets[r * labelCount + weakAt]!);
  const strong = Float64Array.from(evaluated, (r) => prepared.targets[r * labelCount + strongAt]!);
  const scores = Float64Array.from(evaluated, (r) => scoreOfRow[r]!);
  return { ...summarize(scores, weak, strong, { folds, seed, qualityFraction, trainingMs }), foldAlphas };
}

function summarize(
  scores: Float64Array,
  weak: Float64Array,
  strong: Float64Array,
  context: { folds: number; seed: number; qualityFraction: number; trainingMs: number },
): Omit<RouterEvaluation, 'foldAlphas'> {
  const n = scores.length;
  const mean = (values: Float64Array) => (n === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / n);
  const weakQuality = mean(weak);
  const strongQuality = mean(strong);
  const targetQuality = context.qualityFraction * strongQuality;
  const curve = costQualityCurve(scores, weak, strong);
  const oracleScores = Float64Array.from(weak, (w, i) => strong[i]! - w);
  return {
    rows: n,
    folds: context.folds,
    seed: context.seed,
    weakQuality,
    strongQuality,
    targetQuality,
    strongShareForTarget: strongShareFor(curve, targetQuality),
    randomShareForTarget: randomRoutingShare(weakQuality, strongQuality, context.qualityFraction),
    oracleShareForTarget: strongShareFor(costQualityCurve(oracleScores, weak, strong), targetQuality),
    curve,
    scores,
    trainingMs: context.trainingMs,
  };
}
