import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DENSE_FEATURES,
  FAMILY_TAGS,
  Featurizer,
  featureDimension,
  fmix32,
  hashString,
  type SparseVector,
} from '../../../src/routing/learned/features.ts';

/** Slot -> summed value. */
function asMap(vector: SparseVector): Map<number, number> {
  const map = new Map<number, number>();
  for (let i = 0; i < vector.length; i++) {
    map.set(vector.indices[i]!, (map.get(vector.indices[i]!) ?? 0) + vector.values[i]!);
  }
  return map;
}

/** The FNV-1a state of a word before the finaliser (what bigrams combine). */
function hashState(word: string): number {
  let h = 0x811c9dc5 ^ FAMILY_TAGS.word;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return h;
}

const featurizer = new Featurizer();
const mask = (1 << featurizer.config.hashBits) - 1;
const denseSlot = (name: string) => (1 << featurizer.config.hashBits) + DENSE_FEATURES.indexOf(name);

describe('Featurizer', () => {
  it('is deterministic and returns a fresh copy', () => {
    const first = featurizer.featurize('How do I sort a list in Python?');
    featurizer.featurize('something else entirely');
    const second = featurizer.featurize('How do I sort a list in Python?');
    assert.deepEqual(first, second);
    assert.ok(first.length > 20);
  });

  it('puts each lower-cased word at the documented hash slot', () => {
    const vector = asMap(featurizer.featurize('Zebra crossing'));
    assert.ok(vector.has(hashString('zebra', FAMILY_TAGS.word) & mask));
    assert.ok(vector.has(hashString('crossing', FAMILY_TAGS.word) & mask));
    // Case does not change the n-gram features (only the dense uppercase share).
    const hashedPart = (text: string) =>
      [...asMap(featurizer.featurize(text))].filter(([slot]) => slot < 1 << featurizer.config.hashBits);
    assert.deepEqual(hashedPart('ZEBRA CROSSING'), hashedPart('zebra crossing'));
    assert.equal(asMap(featurizer.featurize('ZEBRA')).get(denseSlot('uppercase_share')), 1);
  });

  it('keeps the n-gram features inside the hashed space and the dense ones after it', () => {
    const vector = featurizer.featurize('```js\nconst x = 1;\n```\nWhy?');
    assert.equal(featurizer.dimension, featureDimension(featurizer.config));
    for (let i = 0; i < vector.length; i++) {
      assert.ok(vector.indices[i]! >= 0 && vector.indices[i]! < featurizer.dimension);
    }
    const map = asMap(vector);
    assert.equal(map.get(denseSlot('code_fence')), 1);
    assert.equal(map.get(denseSlot('ends_with_question')), 1);
  });

  it('splits CJK text into one word per character, so bigrams are character pairs', () => {
    const vector = asMap(featurizer.featurize('数据库'));
    for (const character of ['数', '据', '库']) {
      assert.ok(vector.has(hashString(character, FAMILY_TAGS.word) & mask), character);
    }
    assert.ok((vector.get(denseSlot('cjk_share')) ?? 0) > 0.99);
    const pair = Math.imul(hashState('数'), 0x01000193) ^ hashState('据') ^ FAMILY_TAGS.bigram;
    assert.ok(vector.has(fmix32(pair) & mask), 'the bigram 数据');
    assert.equal(asMap(featurizer.featurize('data base')).get(denseSlot('cjk_share')), undefined);
  });

  it('reads every digit as 0 in character n-grams, so numbers share them', () => {
    const words = (text: string) => new Set(asMap(featurizer.featurize(text)).keys());
    const a = words('total 123');
    const b = words('total 456');
    const shared = [...a].filter((slot) => b.has(slot)).length;
    // Only the two number words differ (one unigram and one bigram each side).
    assert.equal(a.size - shared, 2);
  });

  it('scales each family to about unit length whatever the prompt length', () => {
    const norm = (text: string) => {
      const vector = featurizer.featurize(text);
      let squared = 0;
      for (let i = 0; i < vector.length; i++) {
        if (vector.indices[i]! < 1 << featurizer.config.hashBits) squared += vector.values[i]! ** 2;
      }
      return squared;
    };
    const short = norm('a short prompt here');
    const long = norm('a much longer prompt with many more words in it '.repeat(20));
    assert.ok(Math.abs(short - 3) < 1e-4, `short: ${short}`);
    assert.ok(Math.abs(long - 3) < 1e-4, `long: ${long}`);
  });

  it('cuts very long prompts from the middle but measures their whole length', () => {
    const small = new Featurizer({ maxChars: 64 });
    const head = 'alpha '.repeat(20);
    const tail = ' omega'.repeat(20);
    const vector = asMap(small.featurize(`${head}${'middle '.repeat(1000)}${tail}`));
    assert.ok(vector.has(hashString('alpha', FAMILY_TAGS.word) & ((1 << 18) - 1)));
    assert.ok(vector.has(hashString('omega', FAMILY_TAGS.word) & ((1 << 18) - 1)));
    assert.ok(!vector.has(hashString('middle', FAMILY_TAGS.word) & ((1 << 18) - 1)));
    assert.equal(vector.get(denseSlot('chars_ge_4096')), 1);
    // A huge prompt costs what its kept characters cost: at most ~3 n-grams and 2 words each.
    const huge = featurizer.featurize('lorem ipsum dolor sit amet '.repeat(40_000));
    assert.ok(huge.length < featurizer.config.maxChars * 5, `entries: ${huge.length}`);
  });

  it('gives an empty prompt a valid vector', () => {
    const vector = featurizer.featurize('');
    assert.ok(vector.length >= 0);
    for (let i = 0; i < vector.length; i++) assert.ok(Number.isFinite(vector.values[i]!));
  });

  it('refuses a configuration it cannot honour', () => {
    assert.throws(() => new Featurizer({ hashBits: 40 }), /hashBits/);
    assert.throws(() => new Featurizer({ charNgramMin: 5, charNgramMax: 3 }), /n-gram/);
  });
});
