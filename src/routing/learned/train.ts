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
  /** Passes over the rows (shuffled anew each pass). */
  epochs: number;
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
  epochs: 3,
  alpha: 0.05,
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

/** Trains on `rows` (every label in `labels` is one output). */
export function trainQualityModel(
  rows: readonly TrainingRow[],
  labels: readonly string[],
  options: Partial<TrainOptions> = {},
): LogisticQualityModel {
  const merged = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  return trainPrepared(prepareRows(rows, labels, merged.features), merged);
}

/** Trains on the prepared rows listed in `subset` (default: all of them). */
export function trainPrepared(
  prepared: PreparedRows,
  options: Partial<TrainOptions> = {},
  subset?: ArrayLike<number>,
): LogisticQualityModel {
  const { seed, epochs, alpha, beta, l1, l2 } = { ...DEFAULT_TRAIN_OPTIONS, ...options };
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
  let scratch = new Float64Array(1024);
  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffle(order, random);
    for (const row of order) {
      const { indices, values, length } = prepared.features[row]!;
      if (scratch.length < length) scratch = new Float64Array(length * 2);
      for (let l = 0; l < labelCount; l++) {
        const target = prepared.targets[row * labelCount + l]!;
        if (Number.isNaN(target)) continue;
        const biasSlot = biasBase + l;
        const bias = weightOf(biasSlot, 0, 0);
        let score = bias;
        for (let i = 0; i < length; i++) {
          // weightOf, inlined: this loop and the next are where training spends its time.
          const at = (indices[i]! * labelCount + l) * 2;
          const zi = state[at]!;
          const weight =
            zi <= l1 && zi >= -l1
              ? 0
              : (zi > 0 ? l1 - zi : -l1 - zi) / ((beta + state[at + 1]!) / alpha + l2);
          scratch[i] = weight;
          score += weight * values[i]!;
        }
        const gradient = sigmoid(score) - target;
        for (let i = 0; i < length; i++) {
          // step, inlined.
          const at = (indices[i]! * labelCount + l) * 2;
          const g = gradient * values[i]!;
          const before = state[at + 1]!;
          const after = Math.sqrt(before * before + g * g);
          state[at] = state[at]! + g - ((after - before) / alpha) * scratch[i]!;
          state[at + 1] = after;
        }
        step(biasSlot, gradient, bias);
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
