/**
 * The quality model: per label (a measured model, e.g. `weak` / `strong`) a logistic regression over
 * the prompt's features, predicting P(that model answers this prompt correctly). Pure: loading takes
 * parsed JSON (or its text), never a path.
 *
 * A router file (JSON):
 * ```json
 * {
 *   "format": "switchyard-router", "version": 1,
 *   "features": { "hash": "fnv1a32-fmix32", "values": "presence-l2", "hashBits": 18, "charNgramMin": 3,
 *                 "charNgramMax": 5, "maxChars": 4096, "dense": ["log_chars", ...] },
 *   "labels": ["mixtral", "gpt-4"],
 *   "model": { "kind": "logistic",
 *              "weights": { "mixtral": { "bias": 0.71, "index": [12, 40, ...], "weight": [0.013, -0.2, ...] } } },
 *   "training": { "data": "...", "rows": 7000, "seed": 1, "date": "2026-11-27", ... }
 * }
 * ```
 * `index` is ascending; only non-zero weights are stored, rounded to `WEIGHT_DIGITS` significant digits.
 *
 * @example
 * const model = loadQualityModel(readFileSync('routers/mmlu-mixtral-gpt4.json', 'utf8'));
 * const [pWeak, pStrong] = model.predict('What is the derivative of x^2?'); // in label order
 */
import {
  DENSE_FEATURES,
  FEATURE_HASH,
  FEATURE_VALUES,
  type FeatureConfig,
  Featurizer,
  featureDimension,
  type SparseVector,
} from './features.ts';

export const ROUTER_FILE_FORMAT = 'switchyard-router';
export const ROUTER_FILE_VERSION = 1;
/** Significant digits kept per stored weight: 4 moves a prediction by far less than 0.1%. */
export const WEIGHT_DIGITS = 4;

export interface TrainingMetadata {
  /** Where the rows came from (file names, or "request-log"). */
  data: string;
  rows: number;
  folds?: number;
  seed: number;
  /** ISO date (YYYY-MM-DD) of training. */
  date: string;
  [key: string]: unknown;
}

export interface RouterFile {
  format: typeof ROUTER_FILE_FORMAT;
  version: typeof ROUTER_FILE_VERSION;
  features: FeatureConfig & { hash: string; values: string; dense: string[] };
  labels: string[];
  model: {
    kind: 'logistic';
    weights: Record<string, { bias: number; index: number[]; weight: number[] }>;
  };
  training: TrainingMetadata;
}

/** What the gateway calls: probabilities per label, in `labels` order. */
export interface QualityModel {
  readonly labels: readonly string[];
  readonly featureConfig: Readonly<FeatureConfig>;
  /** P(label answers `text` correctly) per label, in `labels` order (a fresh array). */
  predict(text: string): Float64Array;
  /** The same as a record keyed by label. */
  predictRecord(text: string): Record<string, number>;
  /** Predictions for an already featurised prompt (the trainer and evaluator reuse features). */
  predictFeatures(features: SparseVector): Float64Array;
  /** The router file for this model; weights below `minWeight` in magnitude are left out. */
  toRouterFile(training: TrainingMetadata, options?: { minWeight?: number }): RouterFile;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * A logistic model over interleaved weights: slot `i` of label `l` is `weights[i * labels + l]`, so
 * one feature lookup reads every label's weight from one cache line.
 */
export class LogisticQualityModel implements QualityModel {
  readonly labels: readonly string[];
  readonly featureConfig: Readonly<FeatureConfig>;
  private readonly featurizer: Featurizer;
  private readonly weights: Float32Array;
  private readonly biases: Float64Array;

  constructor(
    labels: readonly string[],
    featureConfig: Partial<FeatureConfig>,
    weights: Float32Array,
    biases: Float64Array,
  ) {
    if (labels.length === 0) throw new Error('a quality model needs at least one label');
    if (new Set(labels).size !== labels.length) throw new Error('label names must be unique');
    this.featurizer = new Featurizer(featureConfig);
    this.featureConfig = this.featurizer.config;
    if (weights.length !== this.featurizer.dimension * labels.length || biases.length !== labels.length) {
      throw new Error('weights do not match the feature dimension and labels');
    }
    this.labels = Object.freeze([...labels]);
    this.weights = weights;
    this.biases = biases;
  }

  predict(text: string): Float64Array {
    return this.predictFeatures(this.featurizer.featurizeShared(text));
  }

  predictRecord(text: string): Record<string, number> {
    const probabilities = this.predict(text);
    const record: Record<string, number> = {};
    this.labels.forEach((label, l) => {
      record[label] = probabilities[l]!;
    });
    return record;
  }

  predictFeatures(features: SparseVector): Float64Array {
    const labelCount = this.labels.length;
    const scores = Float64Array.from(this.biases);
    const { indices, values, length } = features;
    const weights = this.weights;
    if (labelCount === 2) {
      let first = scores[0]!;
      let second = scores[1]!;
      for (let i = 0; i < length; i++) {
        const base = indices[i]! * 2;
        const value = values[i]!;
        first += weights[base]! * value;
        second += weights[base + 1]! * value;
      }
      scores[0] = first;
      scores[1] = second;
    } else {
      for (let i = 0; i < length; i++) {
        const base = indices[i]! * labelCount;
        const value = values[i]!;
        for (let l = 0; l < labelCount; l++) scores[l]! += weights[base + l]! * value;
      }
    }
    for (let l = 0; l < labelCount; l++) scores[l] = sigmoid(scores[l]!);
    return scores;
  }

  toRouterFile(training: TrainingMetadata, options: { minWeight?: number } = {}): RouterFile {
    const minWeight = options.minWeight ?? 0;
    const labelCount = this.labels.length;
    const dimension = this.featurizer.dimension;
    const weights: RouterFile['model']['weights'] = {};
    this.labels.forEach((label, l) => {
      const index: number[] = [];
      const weight: number[] = [];
      for (let i = 0; i < dimension; i++) {
        const value = this.weights[i * labelCount + l]!;
        if (value === 0 || Math.abs(value) < minWeight) continue;
        index.push(i);
        weight.push(round(value));
      }
      weights[label] = { bias: round(this.biases[l]!), index, weight };
    });
    return {
      format: ROUTER_FILE_FORMAT,
      version: ROUTER_FILE_VERSION,
      features: {
        ...this.featureConfig,
        hash: FEATURE_HASH,
        values: FEATURE_VALUES,
        dense: [...DENSE_FEATURES],
      },
      labels: [...this.labels],
      model: { kind: 'logistic', weights },
      training,
    };
  }
}

function round(value: number): number {
  return Number(value.toPrecision(WEIGHT_DIGITS));
}

/**
 * Loads a router file (parsed JSON or its text). Throws with a message naming what is wrong when the
 * format, version, hash or dense features differ from this version's, so a stale file fails loudly.
 */
export function loadQualityModel(json: unknown): QualityModel {
  const file = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<RouterFile> | null;
  if (!file || typeof file !== 'object') throw new Error('router file: expected a JSON object');
  if (file.format !== ROUTER_FILE_FORMAT)
    throw new Error(`router file: format must be "${ROUTER_FILE_FORMAT}"`);
  if (file.version !== ROUTER_FILE_VERSION) {
    throw new Error(
      `router file: version ${String(file.version)} is not supported (expected ${ROUTER_FILE_VERSION})`,
    );
  }
  const features = file.features;
  if (!features || features.hash !== FEATURE_HASH)
    throw new Error(`router file: features.hash must be "${FEATURE_HASH}"`);
  if (features.values !== FEATURE_VALUES) {
    throw new Error(`router file: features.values must be "${FEATURE_VALUES}"`);
  }
  if (JSON.stringify(features.dense) !== JSON.stringify(DENSE_FEATURES)) {
    throw new Error('router file: features.dense differs from this version of the featurizer');
  }
  const labels = file.labels;
  if (!Array.isArray(labels) || labels.some((label) => typeof label !== 'string')) {
    throw new Error('router file: labels must be an array of strings');
  }
  if (file.model?.kind !== 'logistic') throw new Error('router file: model.kind must be "logistic"');
  const featureConfig: FeatureConfig = {
    hashBits: features.hashBits,
    charNgramMin: features.charNgramMin,
    charNgramMax: features.charNgramMax,
    maxChars: features.maxChars,
  };
  const dimension = featureDimension(featureConfig);
  const weights = new Float32Array(dimension * labels.length);
  const biases = new Float64Array(labels.length);
  labels.forEach((label, l) => {
    const entry = file.model?.weights?.[label];
    if (!entry || !Array.isArray(entry.index) || !Array.isArray(entry.weight)) {
      throw new Error(`router file: model.weights.${label} must have index and weight arrays`);
    }
    if (entry.index.length !== entry.weight.length) {
      throw new Error(`router file: model.weights.${label}: index and weight differ in length`);
    }
    biases[l] = Number(entry.bias);
    entry.index.forEach((slot, k) => {
      if (!Number.isInteger(slot) || slot < 0 || slot >= dimension) {
        throw new Error(`router file: model.weights.${label}.index[${k}] is outside 0..${dimension - 1}`);
      }
      weights[slot * labels.length + l] = entry.weight[k]!;
    });
  });
  return new LogisticQualityModel(labels, featureConfig, weights, biases);
}
