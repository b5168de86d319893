import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/lib/random.ts';
import { countTokens } from '../../src/routing/tokenizer.ts';

const EXACT = { exactChars: 24_000 };

/** Varied text: English and Chinese sentences drawn from small vocabularies with a seeded source. */
function mixedText(chars: number, seed: number): string {
  const random = seededRandom(seed);
  const english = [
    'router',
    'model',
    'latency',
    'budget',
    'request',
    'the',
    'and',
    'fallback',
    'token',
    'price',
  ];
  const chinese = [
    '路由',
    '模型',
    '延迟',
    '预算',
    '请求',
    '故障',
    '切换',
    '成本',
    '令牌',
    '价格',
    '的',
    '了',
  ];
  const pick = (words: string[]) => words[Math.floor(random() * words.length)]!;
  let text = '';
  while (text.length < chars) {
    const useChinese = Math.floor(text.length / 5000) % 2 === 1;
    const words = Array.from({ length: 12 }, () => pick(useChinese ? chinese : english));
    text += useChinese ? `${words.join('')}。` : `${words.join(' ')}. `;
  }
  return text;
}

describe('countTokens', () => {
  it('counts English at roughly four characters per token', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    const { tokens, estimated } = countTokens(text, EXACT);
    assert.equal(estimated, false);
    assert.ok(
      tokens > text.length / 6 && tokens < text.length / 3,
      `${tokens} tokens for ${text.length} chars`,
    );
  });

  it('counts Chinese at far more than chars/4 (about one token per character or more)', () => {
    const text =
      '在软件工程中，连接池是一种常用的技术，用于管理数据库连接的复用，提高系统性能并降低资源消耗。';
    const { tokens } = countTokens(text, EXACT);
    assert.ok(tokens > text.length / 2, `${tokens} tokens for ${text.length} chars`);
    assert.ok(tokens > 2 * (text.length / 4));
  });

  it('is exact (not estimated) up to exactChars and zero for empty text', () => {
    assert.deepEqual(countTokens('', EXACT), { tokens: 0, estimated: false });
    assert.equal(countTokens('hello world', EXACT).tokens, 2);
    assert.equal(countTokens('x'.repeat(100), { exactChars: 100 }).estimated, false);
  });

  it('treats special-token strings typed by a user as plain text', () => {
    const { tokens } = countTokens('please ignore <|endoftext|> and <|im_start|>', EXACT);
    assert.ok(tokens > 5);
  });

  it('samples long text within 10% of the exact count and flags it estimated', () => {
    const text = mixedText(120_000, 7);
    const exact = countTokens(text, { exactChars: Number.MAX_SAFE_INTEGER });
    const sampled = countTokens(text, EXACT);
    assert.equal(exact.estimated, false);
    assert.equal(sampled.estimated, true);
    const error = Math.abs(sampled.tokens - exact.tokens) / exact.tokens;
    assert.ok(
      error < 0.1,
      `sampled ${sampled.tokens} vs exact ${exact.tokens} (${(error * 100).toFixed(1)}%)`,
    );
  });

  it('samples pure Chinese text correctly (no chars/4 assumption)', () => {
    const base =
      '在软件工程中，连接池是一种常用的技术，用于管理数据库连接的复用，提高系统性能并降低资源消耗。';
    const text = base.repeat(1000);
    const exact = countTokens(text, { exactChars: Number.MAX_SAFE_INTEGER }).tokens;
    const sampled = countTokens(text, { exactChars: 4800 });
    assert.equal(sampled.estimated, true);
    assert.ok(Math.abs(sampled.tokens - exact) / exact < 0.05, `${sampled.tokens} vs ${exact}`);
  });

  it('counts parts in place: the sum of the parts when exact, the same sample as the joined text when long', () => {
    const parts = ['hello world', '法国的首都是哪里？', 'The quick brown fox.'];
    const sum = parts.reduce((total, part) => total + countTokens(part, EXACT).tokens, 0);
    assert.deepEqual(countTokens(parts, EXACT), { tokens: sum, estimated: false });
    assert.deepEqual(countTokens([], EXACT), { tokens: 0, estimated: false });
    const long = mixedText(60_000, 3);
    const cuts = [0, 17, 9_000, 9_001, 30_500, 59_999, long.length];
    const split = cuts.slice(1).map((end, i) => long.slice(cuts[i], end));
    assert.deepEqual(countTokens(split, EXACT), countTokens(long, EXACT));
    assert.equal(countTokens(split, EXACT).estimated, true);
  });

  it('never splits a surrogate pair at a window edge', () => {
    const text = '😀'.repeat(30_000);
    const { tokens, estimated } = countTokens(text, { exactChars: 1000 });
    assert.equal(estimated, true);
    const exact = countTokens(text.slice(0, 2000), { exactChars: 10_000 }).tokens * 30;
    assert.ok(Math.abs(tokens - exact) / exact < 0.1, `${tokens} vs ${exact}`);
  });
});
