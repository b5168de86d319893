import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseExclusionList,
  parseLabelledCsv,
  promptPart,
  withoutExcluded,
} from '../../../src/routing/learned/dataset.ts';

const csv =
  'prompt,model/weak-1,gpt-strong,subject\n' +
  '"A question, with a comma\nand a second line ""quoted""\nAnswer:",True,False,x\n' +
  'plain prompt,false,TRUE,y\n' +
  '"unmeasured",,True,z\n';

describe('parseLabelledCsv', () => {
  it('reads quoted multi-line fields and True/False cells, ignoring other columns', () => {
    const rows = parseLabelledCsv(csv, ['model/weak-1', 'gpt-strong'], 'test.csv');
    assert.deepEqual(rows, [
      {
        text: 'A question, with a comma\nand a second line "quoted"\nAnswer:',
        labels: { 'model/weak-1': 1, 'gpt-strong': 0 },
      },
      { text: 'plain prompt', labels: { 'model/weak-1': 0, 'gpt-strong': 1 } },
      { text: 'unmeasured', labels: { 'model/weak-1': undefined, 'gpt-strong': 1 } },
    ]);
  });

  it('names the file and column when something is wrong', () => {
    assert.throws(
      () => parseLabelledCsv(csv, ['nope'], 'test.csv'),
      /test\.csv: no column "nope" \(columns: prompt,/,
    );
    assert.throws(() => parseLabelledCsv('text,a\nx,True\n', ['a'], 'f.csv'), /f\.csv: no "prompt" column/);
    assert.throws(
      () => parseLabelledCsv('prompt,a\nx,maybe\n', ['a'], 'f.csv'),
      /f\.csv: record 1, column "a"/,
    );
  });
});

describe('exclusion list', () => {
  it('reads JSON strings and objects with prompt or eval_prompt', () => {
    const list = parseExclusionList(
      '"plain prompt"\n{"eval_prompt": "unmeasured", "train_prompt": "other"}\n\n{"prompt": "x"}\n',
      'ex.jsonl',
    );
    assert.deepEqual([...list], ['plain prompt', 'unmeasured', 'x']);
    const rows = withoutExcluded(parseLabelledCsv(csv, ['gpt-strong'], 'test.csv'), list);
    assert.equal(rows.length, 1);
    assert.throws(() => parseExclusionList('{"other": 1}\n', 'ex.jsonl'), /ex\.jsonl: line 1/);
    assert.throws(() => parseExclusionList('not json\n', 'ex.jsonl'), /not JSON/);
  });
});

describe('promptPart', () => {
  it('is a seeded, order-free place in [0, 1), spread evenly', () => {
    assert.equal(promptPart('hello', 1), promptPart('hello', 1));
    assert.notEqual(promptPart('hello', 1), promptPart('hello', 2));
    const parts = Array.from({ length: 10000 }, (_, i) => promptPart(`prompt ${i}`, 1));
    assert.ok(parts.every((part) => part >= 0 && part < 1));
    const below = parts.filter((part) => part < 0.3).length / parts.length;
    assert.ok(Math.abs(below - 0.3) < 0.02, `share below 0.3: ${below}`);
  });
});
