/**
 * The learned router: what the gateway needs from it (pure; the caller reads files).
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { loadQualityModel } from './routing/learned/index.ts';
 *
 * const model = loadQualityModel(readFileSync('routers/mmlu-mixtral-gpt4.json', 'utf8'));
 * model.labels;                         // ['mistralai/Mixtral-8x7B-Instruct-v0.1', 'gpt-4-1106-preview']
 * const p = model.predict(promptText);  // Float64Array in label order: P(answers well)
 * const gain = p[1]! - p[0]!;           // route to the strong model when gain > threshold
 */
export {
  type BanditChoice,
  type BanditOptions,
  type BanditState,
  emptyBanditState,
  ThompsonBandit,
} from './bandit.ts';
export { promptPart } from './dataset.ts';
export { DEFAULT_FEATURE_CONFIG, type FeatureConfig, Featurizer } from './features.ts';
export { loadQualityModel, type QualityModel, type RouterFile } from './quality-model.ts';
export { type TrainingRow, trainQualityModel } from './train.ts';
