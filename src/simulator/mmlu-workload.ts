/**
 * A workload of real MMLU questions with the measured correctness of two models (RouteLLM's data),
 * so a simulated answer can be scored: a pool model labelled with the weak measured model answers a
 * question correctly exactly when that model did, one labelled with the strong model exactly when
 * it did. Only the questions outside the learned router's training part are drawn.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RandomSource } from '../lib/random.ts';
import { parseExclusionList, parseLabelledCsv, promptPart } from '../routing/learned/dataset.ts';
import type { ChatRequest } from '../types/openai.ts';
import { type ArrivalShape, arrivalShape, nextArrivalMs } from './month.ts';
import type { Scenario } from './scenario.ts';
import type { DrawnRequest, RequestSource } from './workload.ts';

type MmluSettings = NonNullable<Scenario['mmlu']>;

/** One labelled question: where it sits in the data, and whether each measured model got it right. */
export interface MmluItem {
  text: string;
  /** CSV file name and 0-based data row (header not counted). */
  file: string;
  row: number;
  weakCorrect: boolean;
  strongCorrect: boolean;
}

export interface MmluPool {
  items: MmluItem[];
  files: string[];
  /** Rows in the files, rows left out as contaminated, rows left out as the router's training part. */
  rows: number;
  excluded: number;
  trainingPart: number;
  /** Rows left out because a measured model's cell is empty. */
  unlabelled: number;
  /** Share of the drawable questions each measured model answered correctly. */
  weakShare: number;
  strongShare: number;
}

const pools = new Map<string, MmluPool>();

/** The questions a scenario draws from (parsed once per settings: both policies share it). */
export function loadMmluPool(settings: MmluSettings): MmluPool {
  const key = JSON.stringify([
    settings.data,
    settings.exclude,
    settings.weak,
    settings.strong,
    settings.split,
  ]);
  const cached = pools.get(key);
  if (cached) return cached;
  const files = readdirSync(settings.data)
    .filter((name) => name.toLowerCase().endsWith('.csv'))
    .sort();
  if (files.length === 0) throw new Error(`mmlu.data: ${settings.data} holds no .csv files`);
  const columns = [settings.weak, settings.strong];
  let rows = 0;
  let excluded = 0;
  let trainingPart = 0;
  let unlabelled = 0;
  const excludedPrompts = settings.exclude
    ? parseExclusionList(readFileSync(settings.exclude, 'utf8'), settings.exclude)
    : new Set<string>();
  // As `withoutExcluded` matches: the exact prompt, or the prompt with surrounding whitespace trimmed.
  const excludedTrimmed = new Set([...excludedPrompts].map((prompt) => prompt.trim()));
  const items: MmluItem[] = [];
  for (const file of files) {
    const parsed = parseLabelledCsv(readFileSync(join(settings.data, file), 'utf8'), columns, file);
    rows += parsed.length;
    parsed.forEach((entry, row) => {
      if (excludedPrompts.has(entry.text) || excludedTrimmed.has(entry.text.trim())) {
        excluded++;
        return;
      }
      if (promptPart(entry.text, settings.split.seed) < settings.split.from) {
        trainingPart++;
        return;
      }
      const weak = entry.labels[settings.weak];
      const strong = entry.labels[settings.strong];
      if (weak === undefined || strong === undefined) {
        unlabelled++;
        return;
      }
      items.push({
        text: entry.text,
        file: basename(file),
        row,
        weakCorrect: weak === 1,
        strongCorrect: strong === 1,
      });
    });
  }
  if (items.length === 0)
    throw new Error(`mmlu.data: no question outside the training part in ${settings.data}`);
  const share = (correct: (item: MmluItem) => boolean) =>
    items.reduce((sum, item) => sum + (correct(item) ? 1 : 0), 0) / items.length;
  const pool: MmluPool = {
    items,
    files,
    rows,
    excluded,
    trainingPart,
    unlabelled,
    weakShare: share((item) => item.weakCorrect),
    strongShare: share((item) => item.strongCorrect),
  };
  pools.set(key, pool);
  return pool;
}

/** Whether pool model `model` answered `item` correctly, by the measured model it stands for. */
export function answeredCorrectly(settings: MmluSettings, item: MmluItem, model: string): boolean {
  const label = settings.labels[model];
  if (label === settings.strong) return item.strongCorrect;
  if (label === settings.weak) return item.weakCorrect;
  throw new Error(`mmlu.labels: ${model} has no measured model`);
}

/** Questions drawn uniformly (with replacement) from the pool, arriving on the scenario's shape. */
export class MmluWorkload implements RequestSource {
  private readonly pool: MmluPool;
  private readonly shape: ArrivalShape;

  constructor(
    private readonly scenario: Scenario & { mmlu: MmluSettings },
    private readonly random: RandomSource,
  ) {
    this.pool = loadMmluPool(scenario.mmlu);
    this.shape = arrivalShape(scenario);
  }

  nextArrivalMs(afterMs: number): number {
    return nextArrivalMs(this.shape, this.random, afterMs);
  }

  next(model: string): DrawnRequest {
    const items = this.pool.items;
    const item = items[Math.floor(this.random() * items.length)]!;
    const request: ChatRequest = {
      model,
      stream: this.scenario.stream,
      max_tokens: this.scenario.mmlu.answer_tokens,
      messages: [{ role: 'user', content: item.text }],
    };
    return { request, item };
  }
}
