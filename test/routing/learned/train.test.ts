import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../../src/lib/random.ts';
import { prepareRows, trainPrepared, trainQualityModel } from '../../../src/routing/learned/train.ts';
import { syntheticPrompt, syntheticRows } from './synthetic.ts';

const labels = ['weak', 'strong'];

describe('trainQualityModel', () => {
  it('recovers a known rule: prompts with the marker are answered by the strong label only', () => {
    const model = trainQualityModel(syntheticRows(1500, 7), labels, { seed: 3 });
    const random = seededRandom(99);
    let withMarker = [0, 0];
    let without = [0, 0];
    const trials = 200;
    for (let i = 0; i < trials; i++) {
      const marked = model.predict(syntheticPrompt(random, 'zebra'));
      const plain = model.predict(syntheticPrompt(random));
      withMarker = [withMarker[0]! + marked[0]!, withMarker[1]! + marked[1]!];
      without = [without[0]! + plain[0]!, without[1]! + plain[1]!];
    }
    const mean = (pair: number[]) => pair.map((sum) => sum / trials);
    const [weakMarked, strongMarked] = mean(withMarker);
    const [weakPlain, strongPlain] = mean(without);
    assert.ok(weakMarked! < 0.15, `P(weak | marker) = ${weakMarked}`);
    assert.ok(strongMarked! - weakMarked! > 0.55, 'a large predicted gain with the marker');
    assert.ok(strongMarked! > 0.85, `P(strong | marker) = ${strongMarked}`);
    // Unmarked prompts: both about the base rate (0.9), so no gain from the strong model.
    assert.ok(weakPlain! > 0.75 && strongPlain! > 0.75, `plain: ${weakPlain}, ${strongPlain}`);
    assert.ok(Math.abs(strongPlain! - weakPlain!) < 0.1, `plain gain: ${strongPlain! - weakPlain!}`);
  });

  it('is deterministic for a seed and changes with it', () => {
    const rows = syntheticRows(300, 1);
    const prepared = prepareRows(rows, labels);
    const probe = prepared.features[0]!;
    const a = trainPrepared(prepared, { seed: 5 }).predictFeatures(probe);
    const b = trainPrepared(prepared, { seed: 5 }).predictFeatures(probe);
    const c = trainPrepared(prepared, { seed: 6 }).predictFeatures(probe);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('learns each label from the rows where it is known (feedback rows carry one label)', () => {
    // Half the rows know only the weak label, half only the strong one (as request-log feedback).
    const rows = syntheticRows(2000, 11).map((row, i) => ({
      text: row.text,
      labels: i % 2 === 0 ? { weak: row.labels.weak } : { strong: row.labels.strong },
    }));
    const model = trainQualityModel(rows, labels, { seed: 2, tune: true });
    const random = seededRandom(4);
    const mean = (marker: string | undefined, label: 'weak' | 'strong') => {
      let sum = 0;
      for (let i = 0; i < 100; i++) sum += model.predictRecord(syntheticPrompt(random, marker))[label]!;
      return sum / 100;
    };
    const weakMarked = mean('zebra', 'weak');
    const strongMarked = mean('zebra', 'strong');
    const weakPlain = mean(undefined, 'weak');
    assert.ok(weakMarked < 0.35 && strongMarked > 0.9, `marked: ${weakMarked}, ${strongMarked}`);
    assert.ok(weakPlain - weakMarked > 0.45, `weak plain ${weakPlain} vs marked ${weakMarked}`);
  });

  it('accepts scores between 0 and 1 and refuses values outside', () => {
    const soft = trainQualityModel(
      Array.from({ length: 400 }, (_, i) => ({ text: `prompt number ${i % 7}`, labels: { weak: 0.25 } })),
      ['weak'],
      { seed: 1, epochs: 5 },
    );
    assert.ok(Math.abs(soft.predict('prompt number 3')[0]! - 0.25) < 0.08);
    assert.throws(() => trainQualityModel([{ text: 'x', labels: { weak: 2 } }], ['weak']), /0\.\.1/);
  });
});
