import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadQualityModel, type RouterFile } from '../../../src/routing/learned/quality-model.ts';
import { trainQualityModel } from '../../../src/routing/learned/train.ts';
import { syntheticRows } from './synthetic.ts';

const metadata = { data: 'synthetic', rows: 600, seed: 1, date: '2026-11-27' };
const model = trainQualityModel(syntheticRows(600, 3), ['weak', 'strong'], { seed: 1 });
const probes = syntheticRows(50, 77).map((row) => row.text);

describe('router file', () => {
  it('round-trips through JSON with predictions unchanged to rounding', () => {
    const file = model.toRouterFile(metadata);
    const loaded = loadQualityModel(JSON.stringify(file));
    assert.deepEqual(loaded.labels, ['weak', 'strong']);
    for (const text of probes) {
      const before = model.predict(text);
      const after = loaded.predict(text);
      for (let l = 0; l < 2; l++) assert.ok(Math.abs(before[l]! - after[l]!) < 1e-3, text);
    }
    assert.deepEqual(loaded.predictRecord(probes[0]!), {
      weak: loaded.predict(probes[0]!)[0],
      strong: loaded.predict(probes[0]!)[1],
    });
  });

  it('stores only non-zero weights, ascending, with format, version, hash and training metadata', () => {
    const file = model.toRouterFile(metadata);
    assert.equal(file.format, 'switchyard-router');
    assert.equal(file.version, 1);
    assert.equal(file.features.hash, 'fnv1a32-fmix32');
    assert.equal(file.features.values, 'presence-l2');
    assert.deepEqual(file.training, metadata);
    for (const entry of Object.values(file.model.weights)) {
      assert.ok(entry.index.length > 0);
      assert.ok(entry.weight.every((weight) => weight !== 0));
      assert.ok(entry.index.every((slot, i) => i === 0 || slot > entry.index[i - 1]!));
    }
  });

  it('prunes weights below minWeight', () => {
    const full = model.toRouterFile(metadata);
    const pruned = model.toRouterFile(metadata, { minWeight: 0.05 });
    const count = (file: RouterFile) =>
      Object.values(file.model.weights).reduce((n, e) => n + e.index.length, 0);
    assert.ok(count(pruned) < count(full));
    for (const entry of Object.values(pruned.model.weights)) {
      assert.ok(entry.weight.every((weight) => Math.abs(weight) >= 0.05));
    }
  });

  it('refuses files of another format, version, hash or featurizer', () => {
    const file = model.toRouterFile(metadata);
    const broken = (change: (copy: any) => void) => {
      const copy = structuredClone(file);
      change(copy);
      return () => loadQualityModel(copy);
    };
    assert.throws(
      broken((copy) => (copy.format = 'other')),
      /format/,
    );
    assert.throws(
      broken((copy) => (copy.version = 2)),
      /version 2/,
    );
    assert.throws(
      broken((copy) => (copy.features.hash = 'md5')),
      /hash/,
    );
    assert.throws(
      broken((copy) => (copy.features.values = 'counts')),
      /values/,
    );
    assert.throws(
      broken((copy) => copy.features.dense.pop()),
      /dense/,
    );
    assert.throws(
      broken((copy) => (copy.model.weights.weak.index[0] = -1)),
      /outside/,
    );
    assert.throws(
      broken((copy) => delete copy.model.weights.strong),
      /strong/,
    );
    assert.throws(() => loadQualityModel('null'), /JSON object/);
  });
});
