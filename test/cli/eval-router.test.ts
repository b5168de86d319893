import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crossValidate, randomRoutingShare } from '../../src/routing/learned/evaluate.ts';
import { loadQualityModel } from '../../src/routing/learned/quality-model.ts';
import { prepareRows, type TrainingRow } from '../../src/routing/learned/train.ts';
import { switchyard } from '../helpers/cli.ts';
import { syntheticRows } from '../routing/learned/synthetic.ts';

const WEAK = 'org/weak-model-v1';
const STRONG = 'strong-model-1106';
const LAST_LINE = /^strong calls for 95% of strong quality: (\d+\.\d)% \(random: (\d+\.\d)%\)$/;

/** Multiple-choice-like prompts with commas, quotes and line breaks, as the MMLU CSVs have. */
function rowsForCsv(count: number, seed: number): TrainingRow[] {
  return syntheticRows(count, seed, { baseRate: 0.85 }).map((row, i) => ({
    text: `${row.text}\nA. yes, "maybe"\nB. no ${i}\nAnswer:`,
    labels: row.labels,
  }));
}

function toCsv(rows: readonly TrainingRow[]): string {
  const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;
  const cell = (value: unknown) => (value === 1 ? 'True' : 'False');
  const lines = rows.map(
    (row, i) => `${quote(row.text)},${cell(row.labels.weak)},${cell(row.labels.strong)},topic-${i % 3}`,
  );
  return `prompt,${WEAK},${STRONG},subject\n${lines.join('\n')}\n`;
}

const percent = (share: number) => (share * 100).toFixed(1);
const rows = rowsForCsv(600, 5);
const dir = mkdtempSync(join(tmpdir(), 'switchyard-eval-router-'));
const file = join(dir, 'labelled.csv');
writeFileSync(file, toCsv(rows));

describe('switchyard eval-router', () => {
  it('prints the curve and ends with the contract line, whose numbers are the evaluator’s', () => {
    const result = switchyard([
      'eval-router',
      '--data',
      file,
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--seed',
      '3',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    const match = LAST_LINE.exec(lines.at(-1)!);
    assert.ok(match, `last line: ${lines.at(-1)}`);
    assert.match(result.stdout, /^ +0\.0% +\d+\.\d% /m);
    assert.match(result.stdout, /^ +100\.0% +\d+\.\d% /m);

    // Random: the closed form on the CSV's own rates.
    const mean = (label: 'weak' | 'strong') =>
      rows.reduce((sum, row) => sum + Number(row.labels[label]), 0) / rows.length;
    assert.equal(match[2], percent(randomRoutingShare(mean('weak'), mean('strong'))));
    // Router: the same evaluation in this process (same seed, default folds) gives the same number.
    const relabelled = rows.map((row) => ({
      text: row.text,
      labels: { [WEAK]: row.labels.weak, [STRONG]: row.labels.strong },
    }));
    const expected = crossValidate(
      prepareRows(relabelled, [WEAK, STRONG]),
      rows.map((row) => row.text),
      WEAK,
      STRONG,
      { folds: 5, seed: 3 },
    );
    assert.equal(match[1], percent(expected.strongShareForTarget));
    assert.ok(Number(match[1]) < Number(match[2]) - 20, 'the router beats random on a learnable rule');
  });

  it('reads a directory of CSVs and leaves out the prompts of --exclude', () => {
    const folder = mkdtempSync(join(tmpdir(), 'switchyard-eval-router-dir-'));
    writeFileSync(join(folder, 'a.csv'), toCsv(rows.slice(0, 300)));
    writeFileSync(join(folder, 'b.csv'), toCsv(rows.slice(300)));
    writeFileSync(join(folder, 'notes.txt'), 'not a csv');
    const exclude = join(folder, 'contaminated.jsonl');
    writeFileSync(
      exclude,
      `${JSON.stringify({ eval_prompt: rows[0]!.text, train_prompt: 'x' })}\n${JSON.stringify(rows[1]!.text)}\n`,
    );
    const result = switchyard([
      'eval-router',
      '--data',
      folder,
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--folds',
      '3',
      '--exclude',
      exclude,
      '--tune',
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /^router evaluation: 598 prompts from 2 file\(s\) \(2 excluded\), 3 folds, seed 1/m,
    );
    assert.match(result.stdout.trimEnd().split('\n').at(-1)!, LAST_LINE);
  });

  it('exits 1 naming a missing column', () => {
    const result = switchyard(['eval-router', '--data', file, '--weak', 'nope', '--strong', STRONG]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /no column "nope"/);
  });
});

describe('switchyard train-router', () => {
  it('writes a router file that loads and routes the rule’s prompts to the strong model', () => {
    const out = join(dir, 'router.json');
    const result = switchyard([
      'train-router',
      '--data',
      file,
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--out',
      out,
      '--seed',
      '2',
      '--train-share',
      '0.5',
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^wrote .*router\.json: \d+ prompts, \d+ weights/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.ok(json.training.rows > 240 && json.training.rows < 360, `rows ${json.training.rows}`);
    assert.deepEqual(json.training.split, {
      rule: 'promptPart(prompt, seed) < trainShare',
      trainShare: 0.5,
      seed: 2,
    });
    assert.equal(json.training.weak, WEAK);
    const model = loadQualityModel(json);
    assert.deepEqual(model.labels, [WEAK, STRONG]);
    // Fresh prompts from the same distribution: the marked ones must show a much larger gain.
    const probes = rowsForCsv(200, 99);
    const meanGain = (marked: boolean) => {
      const chosen = probes.filter((row) => row.text.includes('zebra') === marked);
      const total = chosen.reduce((sum, row) => {
        const [weak, strong] = model.predict(row.text);
        return sum + strong! - weak!;
      }, 0);
      return total / chosen.length;
    };
    assert.ok(meanGain(true) > meanGain(false) + 0.3, `gain ${meanGain(true)} vs ${meanGain(false)}`);
  });
});
