/**
 * `switchyard eval-router`: k-fold evaluation of the learned router on labelled prompts (the
 * contract's "Router evaluation"). Also the labelled-data loading shared with `train-router`.
 *
 *   switchyard eval-router --data FILE|DIR --weak COLUMN --strong COLUMN [--folds 5] [--seed N]
 *                          [--exclude FILE.jsonl] [--tune]
 *
 * `--data` is a CSV (column `prompt`, and `True`/`False` columns) or a directory whose `*.csv` files
 * are all read; `--exclude` names a JSONL of prompts to leave out (e.g. contaminated ones: each line
 * a JSON string or an object with `prompt` or `eval_prompt`). Output: the cost-quality curve, then
 * one last line `strong calls for 95% of strong quality: NN.N% (random: NN.N%)`. Each fold's learning
 * rate is the default (0.1) unless `--tune`: then it is chosen per fold on that fold's training rows
 * alone (slower, and on MMLU no better: bench/learned-router.md).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parseExclusionList, parseLabelledCsv, withoutExcluded } from '../routing/learned/dataset.ts';
import { crossValidate, type RouterEvaluation } from '../routing/learned/evaluate.ts';
import { prepareRows, type TrainingRow } from '../routing/learned/train.ts';

export interface LabelledData {
  rows: TrainingRow[];
  /** The CSV files read, by base name. */
  files: string[];
  excluded: number;
}

/** Reads `--data` (a CSV or a directory of CSVs) labelled by `columns`, without `--exclude`'s prompts. */
export function loadLabelledData(
  dataPath: string,
  columns: readonly string[],
  excludePath?: string,
): LabelledData {
  const paths = statSync(dataPath).isDirectory()
    ? readdirSync(dataPath)
        .filter((name) => name.toLowerCase().endsWith('.csv'))
        .sort()
        .map((name) => join(dataPath, name))
    : [dataPath];
  if (paths.length === 0) throw new Error(`${dataPath}: no .csv files`);
  const all = paths.flatMap((path) => parseLabelledCsv(readFileSync(path, 'utf8'), columns, path));
  const rows = excludePath
    ? withoutExcluded(all, parseExclusionList(readFileSync(excludePath, 'utf8'), excludePath))
    : all;
  return { rows, files: paths.map((path) => basename(path)), excluded: all.length - rows.length };
}

export function parseIntegerOption(minimum: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < minimum) {
      throw new InvalidArgumentError(`expected an integer of at least ${minimum}`);
    }
    return number;
  };
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

interface EvalRouterOptions {
  data: string;
  weak: string;
  strong: string;
  folds: number;
  seed: number;
  exclude?: string;
  tune?: boolean;
}

/** Adds `eval-router` to `program`; `setExitCode` receives the command's exit code. */
export function registerEvalRouter(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('eval-router')
    .description(
      'k-fold evaluation of the learned router on labelled prompts: the cost-quality curve and the ' +
        "share of strong calls needed for 95% of the strong model's quality",
    )
    .requiredOption('--data <path>', 'a CSV (columns prompt and True/False per model) or a directory of CSVs')
    .requiredOption('--weak <column>', "the weak (cheap) model's column")
    .requiredOption('--strong <column>', "the strong (expensive) model's column")
    .option('--folds <k>', 'number of folds', parseIntegerOption(2), 5)
    .option('--seed <n>', 'seed of the fold shuffle and of training', parseIntegerOption(0), 1)
    .option(
      '--exclude <file>',
      'JSONL of prompts to leave out (strings, or objects with prompt / eval_prompt)',
    )
    .option('--tune', "choose each fold's learning rate on a validation share of its training rows")
    .action((options: EvalRouterOptions) => {
      setExitCode(evalRouter(options));
    });
}

function evalRouter(options: EvalRouterOptions): number {
  let data: LabelledData;
  try {
    data = loadLabelledData(options.data, [options.weak, options.strong], options.exclude);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  const { rows } = data;
  process.stderr.write(`featurising ${rows.length} prompts…\n`);
  let evaluation: RouterEvaluation;
  try {
    const prepared = prepareRows(rows, [options.weak, options.strong]);
    process.stderr.write(`training and scoring ${options.folds} folds…\n`);
    evaluation = crossValidate(
      prepared,
      rows.map((row) => row.text),
      options.weak,
      options.strong,
      { folds: options.folds, seed: options.seed, tune: options.tune === true },
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  console.log(formatEvaluation(evaluation, data, options));
  return 0;
}

/** The report: a header, the curve every 10% of strong calls (and at the target), the last line. */
export function formatEvaluation(
  evaluation: RouterEvaluation,
  data: LabelledData,
  options: { weak: string; strong: string },
): string {
  const { curve, rows } = evaluation;
  const lines = [
    `router evaluation: ${rows} prompts from ${data.files.length} file(s)` +
      (data.excluded > 0 ? ` (${data.excluded} excluded)` : '') +
      `, ${evaluation.folds} folds, seed ${evaluation.seed}, training ${(evaluation.trainingMs / 1000).toFixed(1)} s`,
    `weak   ${options.weak}: ${percent(evaluation.weakQuality)} correct`,
    `strong ${options.strong}: ${percent(evaluation.strongQuality)} correct`,
    `target (95% of strong): ${percent(evaluation.targetQuality)}; oracle reaches it with ${percent(evaluation.oracleShareForTarget)} strong calls`,
    `learning rate per fold: ${evaluation.foldAlphas.join(', ')}`,
    '',
    'strong calls   quality   of strong   gain threshold',
  ];
  const targetIndex = curve.findIndex((point) => point.strongShare === evaluation.strongShareForTarget);
  const shown = new Set<number>();
  for (let step = 0; step <= 10; step++) shown.add(Math.round((step / 10) * rows));
  if (targetIndex >= 0) shown.add(targetIndex);
  for (const index of [...shown].sort((a, b) => a - b)) {
    const point = curve[index];
    if (!point) continue;
    const threshold = Number.isFinite(point.threshold) ? point.threshold.toFixed(4) : '-';
    lines.push(
      `${percent(point.strongShare).padStart(12)}   ${percent(point.quality).padStart(7)}   ` +
        `${percent(evaluation.strongQuality === 0 ? 0 : point.quality / evaluation.strongQuality).padStart(9)}   ` +
        `${threshold.padStart(14)}${index === targetIndex ? '   <- 95% of strong' : ''}`,
    );
  }
  lines.push(
    `strong calls for 95% of strong quality: ${percent(evaluation.strongShareForTarget)} ` +
      `(random: ${percent(evaluation.randomShareForTarget)})`,
  );
  return lines.join('\n');
}
