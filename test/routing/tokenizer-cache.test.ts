import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { countTokens, tokenCountCache } from '../../src/routing/tokenizer.ts';

describe('token-count cache', () => {
  afterEach(() => {
    tokenCountCache.enabled = true;
    tokenCountCache.capacity = 4096;
    tokenCountCache.clear();
  });

  it('gives the same counts with and without the cache', () => {
    const texts = [
      'You are a careful assistant that answers questions about distributed systems and their failure modes.',
      '帮我写一个 Redis 连接池的实现,要求线程安全,并解释每一步的设计考虑。',
      'short',
    ];
    tokenCountCache.enabled = false;
    const cold = texts.map((text) => countTokens(text, { exactChars: 8000 }).tokens);
    tokenCountCache.enabled = true;
    const first = texts.map((text) => countTokens(text, { exactChars: 8000 }).tokens);
    const again = texts.map((text) => countTokens(text, { exactChars: 8000 }).tokens);
    assert.deepEqual(first, cold);
    assert.deepEqual(again, cold);
    const cacheable = texts.filter((text) => text.length >= tokenCountCache.minChars).length;
    assert.equal(tokenCountCache.entries.size, cacheable, 'texts under minChars are not cached');
    assert.ok(cacheable >= 1 && cacheable < texts.length);
  });

  it('stays within its capacity, dropping the least recently used', () => {
    tokenCountCache.capacity = 3;
    const text = (i: number) => `message number ${i} with enough characters to be worth caching here`;
    for (let i = 0; i < 10; i++) countTokens(text(i), { exactChars: 8000 });
    assert.equal(tokenCountCache.entries.size, 3);
  });
});
