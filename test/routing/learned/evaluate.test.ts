import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../../src/lib/random.ts';
import {
  assignFolds,
  costQualityCurve,
  crossValidate,
  randomRoutingShare,
  simulateRandomRouting,
  strongShareFor,
} from '../../../src/routing/learned/evaluate.ts';
import { DEFAULT_ALPHA_GRID, prepareRows } from '../../../src/routing/learned/train.ts';
import { syntheticRows } from './synthetic.ts';

describe('costQualityCurve', () => {
  it('routes the best-scoring prompts to the strong model first', () => {
    // Prompt 1 gains from the strong model, prompt 2 loses, prompts 0 and 3 are equal.
    const weak = [1, 0, 1, 0];
    const strong = [1, 1, 0, 0];
    const curve = costQualityCurve([0.1, 0.9, -0.5, 0.0], weak, strong);
    assert.deepEqual(
      curve.map((point) => [point.strongShare, point.quality]),
      [
        [0, 0.5],
        [0.25, 0.75],
        [0.5, 0.75],
        [0.75, 0.75],
        [1, 0.5],
      ],
    );
    assert.equal(curve[1]!.threshold, 0.9);
    assert.equal(strongShareFor(curve, 0.95 * 0.5), 0);
    assert.equal(strongShareFor(curve, 0.75), 0.25);
    assert.equal(strongShareFor(curve, 0.8), 1);
  });
});

describe('random routing', () => {
  it('closed form: s* = (0.95 q_strong - q_weak) / (q_strong - q_weak), clamped', () => {
    assert.ok(Math.abs(randomRoutingShare(0.681, 0.806) - (0.95 * 0.806 - 0.681) / (0.806 - 0.681)) < 1e-12);
    assert.equal(randomRoutingShare(0.9, 0.8), 0);
    assert.equal(randomRoutingShare(0.5, 0.5, 1), 0);
    assert.equal(randomRoutingShare(0.2, 0.2, 1.5), 1);
  });

  it('simulated with many seeds, matches the closed form', () => {
    // 2000 prompts with the MMLU-like rates: weak right 68%, strong right 81%, correlated.
    const random = seededRandom(2024);
    const weak: number[] = [];
    const strong: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const u = random();
      weak.push(u < 0.68 ? 1 : 0);
      strong.push(u < 0.62 || (u >= 0.68 && u < 0.87) ? 1 : 0);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const closedForm = randomRoutingShare(mean(weak), mean(strong));
    const simulated = simulateRandomRouting(weak, strong, 200, seededRandom(5));
    assert.ok(closedForm > 0.4 && closedForm < 0.9, `closed form ${closedForm}`);
    assert.ok(Math.abs(simulated - closedForm) < 0.01, `simulated ${simulated} vs closed form ${closedForm}`);
  });
});

describe('assignFolds', () => {
  it('is seeded, balanced, and keeps equal prompts in one fold', () => {
    const texts = Array.from({ length: 103 }, (_, i) => `prompt ${i % 100}`);
    const a = assignFolds(texts, 5, 1);
    assert.deepEqual(a, assignFolds(texts, 5, 1));
    assert.notDeepEqual(a, assignFolds(texts, 5, 2));
    for (let i = 100; i < 103; i++) assert.equal(a[i], a[i - 100]);
    const sizes = [0, 0, 0, 0, 0];
    for (let i = 0; i < 100; i++) sizes[a[i]!]!++;
    assert.deepEqual(sizes, [20, 20, 20, 20, 20]);
    assert.throws(() => assignFolds(['a', 'a', 'b'], 3, 1), /distinct/);
  });
});

describe('crossValidate', () => {
  const rows = syntheticRows(800, 21);
  const prepared = prepareRows(rows, ['weak', 'strong']);
  const texts = rows.map((row) => row.text);

  it('finds the rule: far fewer strong calls than random for 95% of strong quality', () => {
    const result = crossValidate(prepared, texts, 'weak', 'strong', { folds: 5, seed: 3 });
    assert.deepEqual(result.foldAlphas, [0.1, 0.1, 0.1, 0.1, 0.1]);
    assert.equal(result.rows, 800);
    // The marker prompts (about 30%) are the only ones that gain: the router needs about that many.
    assert.ok(result.randomShareForTarget > 0.75, `random ${result.randomShareForTarget}`);
    assert.ok(result.strongShareForTarget < 0.4, `router ${result.strongShareForTarget}`);
    assert.ok(result.strongShareForTarget >= result.oracleShareForTarget);
    // Tuned per fold on the routing curve of a validation share: rates from the grid, no worse here.
    const tuned = crossValidate(prepared, texts, 'weak', 'strong', { folds: 5, seed: 3, tune: true });
    assert.ok(tuned.foldAlphas.every((alpha) => DEFAULT_ALPHA_GRID.includes(alpha)));
    assert.ok(tuned.strongShareForTarget < 0.4, `tuned router ${tuned.strongShareForTarget}`);
  });

  it('is deterministic for a given seed', () => {
    const a = crossValidate(prepared, texts, 'weak', 'strong', { folds: 4, seed: 9, tune: false });
    const b = crossValidate(prepared, texts, 'weak', 'strong', { folds: 4, seed: 9, tune: false });
    assert.deepEqual(a.scores, b.scores);
    assert.equal(a.strongShareForTarget, b.strongShareForTarget);
    const c = crossValidate(prepared, texts, 'weak', 'strong', { folds: 4, seed: 10, tune: false });
    assert.notDeepEqual(a.scores, c.scores);
  });

  it('refuses data where no prompt has both labels', () => {
    const half = prepareRows(
      rows.map((row, i) => ({ text: row.text, labels: i % 2 ? { weak: row.labels.weak } : { strong: 1 } })),
      ['weak', 'strong'],
    );
    assert.throws(() => crossValidate(half, texts, 'weak', 'strong'), /no prompt has both/);
  });
});
