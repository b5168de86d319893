/**
 * Trains the quality model: one logistic regression per label with FTRL-Proximal (McMahan et al.,
 * 2013: per-coordinate AdaGrad-style step sizes, L1 and L2 in closed form), a few seeded passes over
 * the rows. Deterministic for a given seed, rows and options.
 *
 * Rows are `(text, labels)`, a label's value being 0..1 (1: that model answered well) or missing,
 * so a labelled CSV (every label known) and request-log feedback (only the model that answered has a
 * score) feed the same trainer.
 *
 * @example
 * const model = trainQualityModel(
 *   [{ text: 'What is 2 + 2?', labels: { weak: 1, strong: 1 } }, ...],
 *   ['weak', 'strong'],
 *   { seed: 1 },
 * );
 */
import { type RandomSource, seededRandom } from '../../lib/random.ts';
import { type FeatureConfig, Featurizer, type SparseVector } from './features.ts';
import { LogisticQualityModel, sigmoid } from './quality-model.ts';

export interface TrainingRow {
  text: string;
  /** Per label: 0..1 (or a boolean); missing or undefined when not observed. */
  labels: Readonly<Record<string, number | boolean | undefined>>;
}

export interface TrainOptions {
  seed: number;
  /** Passes over the rows (shuffled anew each pass); 'auto': `autoEpochs(rows)`. */
  epochs: number | 'auto';
  /** FTRL-Proximal learning rate and its AdaGrad smoothing term. */
  alpha: number;
  beta: number;
  /** L1 (drives weights to exactly zero: a smaller file) and L2 strengths. */
  l1: number;
  l2: number;
  features: Partial<FeatureConfig>;
}

export const DEFAULT_TRAIN_OPTIONS: Readonly<TrainOptions> = Object.freeze({
  seed: 1,
  epochs: 'auto',
  alpha: 0.1,
  beta: 1,
  l1: 0.5,
  l2: 1,
  features: {},
});

/** Rows featurised once, so folds and hyperparameter trials reuse the features. */
export interface PreparedRows {
  labels: readonly string[];
  features: SparseVector[];
  /** `targets[row * labels.length + label]`, NaN where not observed. */
  targets: Float64Array;
  featureConfig: Readonly<FeatureConfig>;
  dimension: number;
}

export function prepareRows(
  rows: readonly TrainingRow[],
  labels: readonly string[],
  featureConfig: Partial<FeatureConfig> = {},
): PreparedRows {
  const featurizer = new Featurizer(featureConfig);
  const targets = new Float64Array(rows.length * labels.length);
  const features = rows.map((row, r) => {
    labels.forEach((label, l) => {
      targets[r * labels.length + l] = targetValue(row.labels[label]);
    });
    return featurizer.featurize(row.text);
  });
  return { labels, features, targets, featureConfig: featurizer.config, dimension: featurizer.dimension };
}

function targetValue(value: number | boolean | undefined): number {
  if (value === undefined) return Number.NaN;
  const number = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (!(number >= 0 && number <= 1))
    throw new Error(`a label must be 0..1 or a boolean, got ${String(value)}`);
  return number;
}

/**
 * Trains on `rows` (every label in `labels` is one output). With `tune`, the learning rate is first
 * chosen on a validation share of these rows (`tuneTrainOptions`).
 */
export function trainQualityModel(
  rows: readonly TrainingRow[],
  labels: readonly string[],
  options: Partial<TrainOptions> & { tune?: boolean } = {},
): LogisticQualityModel {
  const { tune = false, ...train } = options;
  const prepared = prepareRows(rows, labels, train.features);
  const all = Int32Array.from(prepared.features, (_, r) => r);
  const chosen = tune ? tuneTrainOptions(prepared, all, train).options : train;
  return trainPrepared(prepared, chosen, all);
}

/**
 * Passes for `rows` training rows: about 30,000 row visits, 3 to 30 passes (11k rows: 3; 3k: 10;
 * 1k: 30). FTRL's steps shrink as evidence accumulates, so small data needs more passes to fit; on
 * 1k- and 3k-row samples of MMLU, 10 passes did as well as or better than 3 (bench/learned-router.md).
 */
export function autoEpochs(rows: number): number {
  return Math.min(30, Math.max(3, Math.ceil(30_000 / Math.max(1, rows))));
}

/** Trains on the prepared rows listed in `subset` (default: all of them). */
export function trainPrepared(
  prepared: PreparedRows,
  options: Partial<TrainOptions> = {},
  subset?: ArrayLike<number>,
): LogisticQualityModel {
  const { seed, alpha, beta, l1, l2, ...rest } = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  const rowCount = subset ? subset.length : prepared.features.length;
  const epochs = rest.epochs === 'auto' ? autoEpochs(rowCount) : rest.epochs;
  const labelCount = prepared.labels.length;
  const dimension = prepared.dimension;
  // Slot `dimension` of each label is its bias (never regularised).
  const slots = (dimension + 1) * labelCount;
  // Per slot, side by side (one cache line): FTRL's z, and the root of n (summed squared gradients).
  const state = new Float64Array(slots * 2);
  const biasBase = dimension * labelCount;
  const order = Int32Array.from(subset ?? prepared.features.map((_, r) => r));
  const random = seededRandom(seed);
  const weightOf = (slot: number, penalty: number, ridge: number): number => {
    const zi = state[slot * 2]!;
    if (zi <= penalty && zi >= -penalty) return 0;
    return (zi > 0 ? penalty - zi : -penalty - zi) / ((beta + state[slot * 2 + 1]!) / alpha + ridge);
  };
  /** One FTRL-Proximal step on one coordinate. */
  const step = (slot: number, gradient: number, weight: number): void => {
    const before = state[slot * 2 + 1]!;
    const after = Math.sqrt(before * before + gradient * gradient);
    state[slot * 2] = state[slot * 2]! + gradient - ((after - before) / alpha) * weight;
    state[slot * 2 + 1] = after;
  };
  // Every label of a row in one pass over its features: a feature's slots for all labels are
  // adjacent, so each feature costs one cache miss, not one per label.
  let scratch = new Float64Array(1024 * labelCount);
  const scores = new Float64Array(labelCount);
  const gradients = new Float64Array(labelCount);
  const targets = prepared.targets;
  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffle(order, random);
    for (const row of order) {
      const { indices, values, length } = prepared.features[row]!;
      if (scratch.length < length * labelCount) scratch = new Float64Array(length * labelCount * 2);
      for (let l = 0; l < labelCount; l++) scores[l] = weightOf(biasBase + l, 0, 0);
      for (let i = 0; i < length; i++) {
        const value = values[i]!;
        const base = indices[i]! * labelCount;
        for (let l = 0; l < labelCount; l++) {
          // weightOf, inlined: this loop and the update loop are where training spends its time.
          const at = (base + l) * 2;
          const zi = state[at]!;
          const weight =
            zi <= l1 && zi >= -l1
              ? 0
              : (zi > 0 ? l1 - zi : -l1 - zi) / ((beta + state[at + 1]!) / alpha + l2);
          scratch[i * labelCount + l] = weight;
          scores[l]! += weight * value;
        }
      }
      for (let l = 0; l < labelCount; l++) {
        const target = targets[row * labelCount + l]!;
        // A label not observed on this row: no gradient (its slots are left as they are).
        gradients[l] = Number.isNaN(target) ? 0 : sigmoid(scores[l]!) - target;
      }
      for (let i = 0; i < length; i++) {
        const value = values[i]!;
        const base = indices[i]! * labelCount;
        for (let l = 0; l < labelCount; l++) {
          const g = gradients[l]! * value;
          if (g === 0) continue;
          // step, inlined.
          const at = (base + l) * 2;
          const before = state[at + 1]!;
          const after = Math.sqrt(before * before + g * g);
          state[at] = state[at]! + g - ((after - before) / alpha) * scratch[i * labelCount + l]!;
          state[at + 1] = after;
        }
      }
      for (let l = 0; l < labelCount; l++) {
        if (gradients[l] !== 0) step(biasBase + l, gradients[l]!, weightOf(biasBase + l, 0, 0));
      }
    }
  }
  const weights = new Float32Array(dimension * labelCount);
  for (let slot = 0; slot < weights.length; slot++) weights[slot] = weightOf(slot, l1, l2);
  const biases = new Float64Array(labelCount);
  for (let l = 0; l < labelCount; l++) biases[l] = weightOf(biasBase + l, 0, 0);
  return new LogisticQualityModel(prepared.labels, prepared.featureConfig, weights, biases);
}

/** Fisher-Yates with the injected random source. */
export function shuffle(items: Int32Array | number[], random: RandomSource): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
}

/** Learning rates tried by `tuneTrainOptions` (FTRL's alpha is also its strength of fit). */
export const DEFAULT_ALPHA_GRID: readonly number[] = Object.freeze([0.03, 0.1, 0.3]);

/** How well a candidate model does on validation rows: lower is better. */
export type ValidationLoss = (
  model: LogisticQualityModel,
  prepared: PreparedRows,
  validation: Int32Array,
) => number;

/** Mean log loss over the known labels of the validation rows. */
export const logLoss: ValidationLoss = (model, prepared, validation) => {
  const labelCount = prepared.labels.length;
  let loss = 0;
  let count = 0;
  for (const row of validation) {
    const probabilities = model.predictFeatures(prepared.features[row]!);
    for (let l = 0; l < labelCount; l++) {
      const target = prepared.targets[row * labelCount + l]!;
      if (Number.isNaN(target)) continue;
      const p = Math.min(1 - 1e-9, Math.max(1e-9, probabilities[l]!));
      loss -= target * Math.log(p) + (1 - target) * Math.log(1 - p);
      count++;
    }
  }
  return count === 0 ? 0 : loss / count;
};

export interface TuningOptions {
  /** Learning rates to try. */
  grid: readonly number[];
  /** Share of the rows held out to judge the candidates. */
  validationShare: number;
  /** What "better" means (default: log loss; the evaluator uses its routing curve). */
  loss: ValidationLoss;
}

export interface TuningResult {
  options: Partial<TrainOptions>;
  /** Validation loss per candidate, in grid order. */
  losses: { alpha: number; loss: number }[];
}

/**
 * Chooses the learning rate on the rows in `subset` alone: trains each candidate on a seeded
 * `1 - validationShare` of them and keeps the one with the lowest validation loss on the rest.
 * Small data wants a larger rate, large data a smaller one; nothing about the data set is fixed in
 * advance.
 */
export function tuneTrainOptions(
  prepared: PreparedRows,
  subset: ArrayLike<number>,
  base: Partial<TrainOptions> = {},
  tuning: Partial<TuningOptions> = {},
): TuningResult {
  const { grid = DEFAULT_ALPHA_GRID, validationShare = 0.2, loss = logLoss } = tuning;
  const merged = { ...DEFAULT_TRAIN_OPTIONS, ...base };
  const rows = Int32Array.from(subset);
  shuffle(rows, seededRandom(merged.seed ^ 0x7e57));
  const validationCount = Math.max(1, Math.round(rows.length * validationShare));
  const validation = rows.subarray(0, validationCount);
  const fit = rows.subarray(validationCount);
  const losses = grid.map((alpha) => ({
    alpha,
    loss: loss(trainPrepared(prepared, { ...merged, alpha }, fit), prepared, validation),
  }));
  const best = losses.reduce((a, b) => (b.loss < a.loss ? b : a));
  return { options: { ...base, alpha: best.alpha }, losses };
}
