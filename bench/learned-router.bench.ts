/**
 * Micro-benchmark of the learned router (src/routing/learned): what loading a router file and one
 * prediction (featurise + both labels' logistic scores) cost, and how the committed router does on
 * the MMLU prompts it was not trained on.
 *
 * Run: node --import tsx bench/learned-router.bench.ts [--router FILE] [--data DIR]
 * Defaults: routers/mmlu-mixtral-gpt4.json and ../shared/data/routellm-mmlu (skipped if absent).
 * Timing: after a warm-up, batches of predictions are timed with process.hrtime.bigint; each batch
 * gives one per-prediction time; median and p99 are over batches. Prompts rotate through distinct
 * texts. Prints one JSON line per measurement, then a summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabelledData } from '../src/cli/eval-router.ts';
import { seededRandom } from '../src/lib/random.ts';
import { promptPart } from '../src/routing/learned/dataset.ts';
import { costQualityCurve, randomRoutingShare, strongShareFor } from '../src/routing/learned/evaluate.ts';
import { Featurizer } from '../src/routing/learned/features.ts';
import {
  loadQualityModel,
  type QualityModel,
  type RouterFile,
} from '../src/routing/learned/quality-model.ts';
import { countTokens } from '../src/routing/tokenizer.ts';

const { values: args } = parseArgs({
  options: {
    router: { type: 'string', default: 'routers/mmlu-mixtral-gpt4.json' },
    data: { type: 'string', default: '../shared/data/routellm-mmlu' },
  },
});

const SENTENCES = [
  'Our service reads orders from a queue and writes them to Postgres.',
  'When traffic doubles, the p99 latency climbs above two seconds.',
  'Explain why the connection pool runs out and how to size it.',
  'Should we add a cache in front of the inventory lookups?',
  'The batch job retries failed rows three times with exponential backoff.',
  'Write a short summary for the on-call engineer, with the likely cause first.',
  'Compare the cost of a larger instance with the cost of read replicas.',
  'List the metrics we should alert on, and the thresholds you would start with.',
];

/** English prose of exactly about `tokens` tokens (counted with the gateway's tokenizer). */
function englishPrompt(tokens: number, seed: number): string {
  const random = seededRandom(seed);
  let text = '';
  while (countTokens(text, { exactChars: 100_000 }).tokens < tokens) {
    text += `${SENTENCES[Math.floor(random() * SENTENCES.length)]} `;
  }
  return text.trimEnd();
}

function cjkPrompt(characters: number, seed: number): string {
  const random = seededRandom(seed);
  const text = '请帮我写一个线程安全的连接池并解释缓存失效的原因以及如何优化数据库查询的性能';
  return Array.from({ length: characters }, () => text[Math.floor(random() * text.length)]).join('');
}

interface Timing {
  name: string;
  medianUs: number;
  p99Us: number;
  meanChars: number;
}

function time(name: string, prompts: string[], run: (text: string) => unknown): Timing {
  const batch = 200;
  const batches = 200;
  let sink = 0;
  for (let i = 0; i < 2000; i++) sink += Number(Boolean(run(prompts[i % prompts.length]!)));
  const perCall: number[] = [];
  let next = 0;
  for (let b = 0; b < batches; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink += Number(Boolean(run(prompts[next++ % prompts.length]!)));
    perCall.push(Number(process.hrtime.bigint() - started) / 1000 / batch);
  }
  if (sink < 0) console.log(sink);
  perCall.sort((a, b) => a - b);
  const meanChars = prompts.reduce((sum, prompt) => sum + prompt.length, 0) / prompts.length;
  const timing = {
    name,
    medianUs: round(perCall[Math.floor(batches / 2)]!),
    p99Us: round(perCall[Math.floor(batches * 0.99)]!),
    meanChars: Math.round(meanChars),
  };
  console.log(JSON.stringify(timing));
  return timing;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

const text = readFileSync(args.router, 'utf8');
let started = performance.now();
const file = JSON.parse(text) as RouterFile;
const model: QualityModel = loadQualityModel(file);
const loadMs = performance.now() - started;
console.log(JSON.stringify({ name: 'load router file', ms: round(loadMs), bytes: text.length }));

const featurizer = new Featurizer(model.featureConfig);
const english200 = Array.from({ length: 64 }, (_, i) => englishPrompt(200, i));
const cjk300 = Array.from({ length: 64 }, (_, i) => cjkPrompt(300, i));
const timings = [
  time('featurize, 200-token English prompt', english200, (prompt) => featurizer.featurizeShared(prompt)),
  time('predict, 200-token English prompt', english200, (prompt) => model.predict(prompt)),
  time('predict, 300-character Chinese prompt', cjk300, (prompt) => model.predict(prompt)),
];

const weak = String(file.training.weak);
const strong = String(file.training.strong);
const split = file.training.split as { trainShare: number; seed: number } | undefined;
if (existsSync(args.data)) {
  const exclude = join(args.data, 'contaminated_prompts.jsonl');
  const data = loadLabelledData(args.data, [weak, strong], existsSync(exclude) ? exclude : undefined);
  const heldOut = split
    ? data.rows.filter((row) => promptPart(row.text, split.seed) >= split.trainShare)
    : [];
  timings.push(
    time(
      'predict, MMLU prompts',
      data.rows.slice(0, 2000).map((row) => row.text),
      (prompt) => model.predict(prompt),
    ),
  );
  if (heldOut.length > 0) {
    started = performance.now();
    const scores = heldOut.map((row) => {
      const [pWeak, pStrong] = model.predict(row.text);
      return pStrong! - pWeak!;
    });
    const scoringMs = performance.now() - started;
    const weakCorrect = heldOut.map((row) => Number(row.labels[weak]));
    const strongCorrect = heldOut.map((row) => Number(row.labels[strong]));
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const curve = costQualityCurve(scores, weakCorrect, strongCorrect);
    const target = 0.95 * mean(strongCorrect);
    const result = {
      name: 'committed router on the held-out part',
      rows: heldOut.length,
      weakQuality: round(mean(weakCorrect) * 100),
      strongQuality: round(mean(strongCorrect) * 100),
      strongShareFor95: round(strongShareFor(curve, target) * 100),
      gainThresholdFor95: Number(
        curve[Math.round(strongShareFor(curve, target) * heldOut.length)]!.threshold.toFixed(4),
      ),
      randomShareFor95: round(randomRoutingShare(mean(weakCorrect), mean(strongCorrect)) * 100),
      curve: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((share) => ({
        strongShare: share * 100,
        quality: round(curve[Math.round(share * heldOut.length)]!.quality * 100),
      })),
      scoringMs: Math.round(scoringMs),
    };
    console.log(JSON.stringify(result));
    console.log(
      `\nheld-out part (${result.rows} prompts, promptPart >= ${split!.trainShare}): strong calls for 95% of strong ` +
        `quality ${result.strongShareFor95}% (random ${result.randomShareFor95}%), at gain threshold ` +
        `${result.gainThresholdFor95}`,
    );
  }
} else {
  console.log(`(no data at ${args.data}: held-out evaluation skipped)`);
}

console.log(
  `\nrouter file ${args.router}: ${(text.length / 1024).toFixed(0)} KiB, loaded in ${loadMs.toFixed(1)} ms`,
);
for (const timing of timings) {
  console.log(
    `${timing.name.padEnd(40)} median ${String(timing.medianUs).padStart(7)} µs   p99 ${String(timing.p99Us).padStart(7)} µs   (${timing.meanChars} chars)`,
  );
}
