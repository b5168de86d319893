/**
 * `switchyard train-router`: trains the learned router on labelled prompts and writes a router file
 * (`loadQualityModel` reads it).
 *
 *   switchyard train-router --data FILE|DIR --weak COLUMN --strong COLUMN --out router.json
 *                           [--seed N] [--exclude FILE.jsonl] [--train-share F] [--min-weight W] [--tune]
 *   switchyard train-router --request-log requests.db --config switchyard.yaml --weak L --strong L --out ...
 *
 * `--request-log` adds the log's scored answers (`POST /v1/feedback`, with `log_content: true`):
 * each is a row labelled only for the router label of the model that answered, from the config's
 * `routing.learned.labels` or `--label MODEL=LABEL`. `--data` and `--request-log` can be combined.
 *
 * `--train-share F` trains on the prompts whose `promptPart(prompt, seed)` is below F (a split by
 * prompt hash, so whoever must not see the training prompts takes those at F or above); the file's
 * `training` metadata records the rule. Weights smaller than `--min-weight` are left out of the file.
 * With `--tune`, the learning rate is chosen on a validation share of the training rows.
 */
import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { promptPart } from '../routing/learned/dataset.ts';
import { routingCurveLoss } from '../routing/learned/evaluate.ts';
import {
  autoEpochs,
  DEFAULT_TRAIN_OPTIONS,
  prepareRows,
  trainPrepared,
  tuneTrainOptions,
} from '../routing/learned/train.ts';
import { type LabelledData, loadLabelledData, parseIntegerOption } from './eval-router.ts';
import { readFeedbackRows } from './feedback-data.ts';

/** Weights below this magnitude change a prediction by far less than a percent; dropping them keeps files small. */
export const DEFAULT_MIN_WEIGHT = 0.002;

interface TrainRouterOptions {
  data?: string;
  requestLog?: string;
  config?: string;
  label: string[];
  weak: string;
  strong: string;
  out: string;
  seed: number;
  exclude?: string;
  trainShare: number;
  minWeight: number;
  tune?: boolean;
}

function parseShare(value: string): number {
  const number = Number(value);
  if (!(number > 0 && number <= 1)) throw new InvalidArgumentError('expected a number in (0, 1]');
  return number;
}

function parseNonNegative(value: string): number {
  const number = Number(value);
  if (!(number >= 0)) throw new InvalidArgumentError('expected a number of at least 0');
  return number;
}

/** Adds `train-router` to `program`; `setExitCode` receives the command's exit code. */
export function registerTrainRouter(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('train-router')
    .description('train the learned router on labelled prompts and write a router file')
    .option('--data <path>', 'a CSV (columns prompt and True/False per model) or a directory of CSVs')
    .option('--request-log <file>', "the request log's scored answers (needs log_content: true)")
    .option(
      '--config <file>',
      'with --request-log: the config whose routing.learned.labels map models to labels',
    )
    .option(
      '--label <model=label>',
      'with --request-log: the label of a model (repeatable)',
      (value: string, list: string[]) => [...list, value],
      [] as string[],
    )
    .requiredOption('--weak <column>', "the weak (cheap) model's column")
    .requiredOption('--strong <column>', "the strong (expensive) model's column")
    .requiredOption('--out <file>', 'where to write the router file (JSON)')
    .option('--seed <n>', 'seed of training (and of --train-share)', parseIntegerOption(0), 1)
    .option(
      '--exclude <file>',
      'JSONL of prompts to leave out (strings, or objects with prompt / eval_prompt)',
    )
    .option('--train-share <f>', 'train only on the prompts whose hash part is below f', parseShare, 1)
    .option('--min-weight <w>', 'leave out weights smaller than w', parseNonNegative, DEFAULT_MIN_WEIGHT)
    .option('--tune', 'choose the learning rate on a validation share of the training rows')
    .action((options: TrainRouterOptions) => {
      setExitCode(trainRouter(options));
    });
}

function trainRouter(options: TrainRouterOptions): number {
  const labels = [options.weak, options.strong];
  let data: LabelledData;
  try {
    data = trainingData(options, labels);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  const rows =
    options.trainShare < 1
      ? data.rows.filter((row) => promptPart(row.text, options.seed) < options.trainShare)
      : data.rows;
  if (rows.length === 0) {
    console.error('no rows to train on');
    return 1;
  }
  const started = performance.now();
  const prepared = prepareRows(rows, labels);
  const all = Int32Array.from(rows, (_, r) => r);
  const tuning = options.tune
    ? tuneTrainOptions(
        prepared,
        all,
        { seed: options.seed },
        { loss: routingCurveLoss(options.weak, options.strong) },
      )
    : undefined;
  const chosen = { ...DEFAULT_TRAIN_OPTIONS, ...tuning?.options, seed: options.seed };
  const model = trainPrepared(prepared, chosen, all);
  const trainingMs = performance.now() - started;
  const { features: _features, ...trainOptions } = chosen;
  const file = model.toRouterFile(
    {
      data: data.files.join(', '),
      rows: rows.length,
      seed: options.seed,
      date: new Date().toISOString().slice(0, 10),
      weak: options.weak,
      strong: options.strong,
      excluded: options.exclude ? { file: options.exclude, rows: data.excluded } : undefined,
      split:
        options.trainShare < 1
          ? {
              rule: 'promptPart(prompt, seed) < trainShare',
              trainShare: options.trainShare,
              seed: options.seed,
            }
          : undefined,
      optimizer: {
        name: 'ftrl-proximal',
        ...trainOptions,
        epochs: trainOptions.epochs === 'auto' ? autoEpochs(rows.length) : trainOptions.epochs,
      },
      tuning: tuning && {
        validationShare: 0.2,
        loss: 'minus the mean quality along the validation cost-quality curve',
        losses: tuning.losses,
      },
      minWeight: options.minWeight,
      trainingMs: Math.round(trainingMs),
    },
    { minWeight: options.minWeight },
  );
  const json = JSON.stringify(file);
  writeFileSync(options.out, `${json}\n`);
  const stored = Object.values(file.model.weights).reduce((sum, entry) => sum + entry.index.length, 0);
  console.log(
    `wrote ${options.out}: ${rows.length} prompts, ${stored} weights, ${(json.length / 1024).toFixed(0)} KiB, ` +
      `trained in ${(trainingMs / 1000).toFixed(1)} s`,
  );
  return 0;
}

/** The CSV rows and the request log's scored rows, as `--data` and `--request-log` ask. */
function trainingData(options: TrainRouterOptions, labels: readonly string[]): LabelledData {
  if (!options.data && !options.requestLog) throw new Error('give --data, --request-log or both');
  const data: LabelledData = options.data
    ? loadLabelledData(options.data, labels, options.exclude)
    : { rows: [], files: [], excluded: 0 };
  if (options.data && data.files.length > 1)
    data.files = [`${options.data} (${data.files.length} CSV files)`];
  else if (options.data) data.files = [options.data];
  if (options.requestLog) {
    const labelOf = modelLabels(options, labels);
    const feedback = readFeedbackRows(options.requestLog, (model) => labelOf.get(model));
    const skipped = [...feedback.unlabelled].map(([model, count]) => `${model} ${count}`).join(', ');
    console.log(
      `request log ${options.requestLog}: ${feedback.rows.length} scored answers` +
        (feedback.withoutContent > 0
          ? `, ${feedback.withoutContent} without a logged prompt (log_content off)`
          : '') +
        (skipped ? `, left out (no label): ${skipped}` : ''),
    );
    data.rows.push(...feedback.rows);
    data.files.push(`request-log ${options.requestLog} (${feedback.rows.length} scored answers)`);
  }
  return data;
}

/** Model -> label from `--label` pairs, else the config's routing.learned.labels; labels must be --weak/--strong. */
function modelLabels(options: TrainRouterOptions, labels: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of options.label) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new Error(`--label ${pair}: expected MODEL=LABEL`);
    map.set(pair.slice(0, at), pair.slice(at + 1));
  }
  if (map.size === 0 && options.config) {
    const config = loadConfigFile(options.config);
    const learned = config.routing.learned;
    if (!learned) throw new Error(`${options.config}: no routing.learned.labels to map models to labels`);
    for (const [model, label] of Object.entries(learned.labels)) map.set(model, label);
  }
  if (map.size === 0)
    throw new Error('--request-log needs --label MODEL=LABEL or --config with routing.learned.labels');
  for (const [model, label] of map) {
    if (!labels.includes(label)) {
      throw new Error(
        `${model} is labelled "${label}", which is neither --weak nor --strong (${labels.join(', ')})`,
      );
    }
  }
  return map;
}
