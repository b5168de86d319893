/**
 * Token counts without the tokenizer (issue 14): the estimate's error stays inside ESTIMATE_BAND on
 * every kind of text, and the analyser counts exactly only where it matters — a prompt whose band
 * reaches a task threshold or a context window — so a short prompt never loads the tables.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAnalyzer } from '../../src/routing/analyze.ts';
import { countTokens, ESTIMATE_BAND, estimateTokens } from '../../src/routing/tokenizer.ts';
import type { ChatRequest } from '../../src/types/openai.ts';
import { mmluDataDir, mmluMissing } from '../helpers/mmlu-data.ts';
import { analysisDefaults } from './fixtures.ts';

const exact = (text: string) => countTokens(text, { exactChars: 1_000_000 }).tokens;
const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content }],
  ...extra,
});

/** Texts of many kinds, cut into pieces of a few hundred to a few thousand characters. */
function corpus(): Array<[kind: string, text: string]> {
  const pieces: Array<[string, string]> = [];
  const cut = (kind: string, text: string, size: number) => {
    for (let at = 0; at + size <= text.length && pieces.length < 5000; at += size * 2) {
      pieces.push([kind, text.slice(at, at + size)]);
    }
  };
  // MMLU questions where the data is present (it is not part of this repository).
  if (!mmluMissing) {
    for (const file of readdirSync(mmluDataDir)
      .filter((name) => name.endsWith('.csv'))
      .slice(0, 20)) {
      cut('mmlu', readFileSync(join(mmluDataDir, file), 'utf8'), 1200);
    }
  }
  for (const file of readdirSync(new URL('../../src/gateway/', import.meta.url))) {
    cut('typescript', readFileSync(new URL(`../../src/gateway/${file}`, import.meta.url), 'utf8'), 1500);
  }
  cut('markdown', readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), 1500);
  const lock = readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8');
  cut('json', lock, 1500);
  cut('base64', Buffer.from(lock).toString('base64'), 1500);
  cut('digits', Array.from({ length: 4000 }, (_, i) => String((i * 7919) % 100_000)).join(', '), 1000);
  cut('emoji', '😀👍🏽🚀✨🎉 '.repeat(400), 400);
  cut(
    'chinese',
    '请总结下面这份合同的主要条款和风险点并给出修改建议。帮我写一个 Redis 连接池的实现,要求线程安全。'.repeat(
      60,
    ),
    600,
  );
  cut(
    'japanese',
    'このドキュメントでは、ゲートウェイの設定方法と障害時の動作について説明します。'.repeat(60),
    600,
  );
  cut(
    'russian',
    'Шлюз выбирает модель для каждого запроса и переключается при сбое поставщика. '.repeat(60),
    600,
  );
  cut(
    'arabic',
    'تختار البوابة النموذج المناسب لكل طلب وتتحول إلى نموذج آخر عند فشل المزود. '.repeat(60),
    600,
  );
  return pieces;
}

describe('token estimate', () => {
  it('stays within its band of the exact o200k count on every kind of text', () => {
    const worst = new Map<string, [number, number]>();
    for (const [kind, text] of corpus()) {
      const count = exact(text);
      if (count < 20) continue;
      const ratio = count / estimateTokens(text);
      const [low, high] = worst.get(kind) ?? [Number.POSITIVE_INFINITY, 0];
      worst.set(kind, [Math.min(low, ratio), Math.max(high, ratio)]);
      assert.ok(
        ratio >= ESTIMATE_BAND.low && ratio <= ESTIMATE_BAND.high,
        `${kind}: exact ${count} vs estimate ${estimateTokens(text)} (ratio ${ratio.toFixed(2)}) for ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    assert.ok(worst.size >= (mmluMissing ? 9 : 10), `kinds measured: ${[...worst.keys()].join(', ')}`);
  });

  it('gives the same figures as the rules it documents (pinned before the table-driven rewrite)', () => {
    // Each case's figure is what the range-test version of the estimate returned.
    const pinned: Array<[string, number]> = [
      ['', 0],
      ['hello', 1],
      ['Hello, world!', 3],
      ['XMLHttpRequest fooBarBaz a1b2c3 camelCaseWord', 16],
      ['1234567 12 3', 5],
      ['internationalization', 5],
      ['你好，世界。帮我写一个 Redis 连接池', 14],
      ['😀 emoji 🎉 party', 5],
      ['Привет, как дела?', 7],
      ['const x = { a: [1, 2, 3] };\nfunction f() { return x; }', 19],
      ['aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=', 14],
      ['Tab\tand\nnewline  spaces', 4],
      ['한국어 텍스트 مرحبا', 8],
      ['ABCDEF ABC aBC', 3],
      // Runs that end the text (lower-case, digit-led, upper-case then lower-case), a lone high
      // surrogate at the end, non-ASCII right after a run (pinned before round 11's inner loop).
      ['fooBarBazQuxQuuxCorgeGrault', 10],
      ['getHTTPResponseCode2', 8],
      ['UPPERlower', 4],
      ['9aBcD', 2],
      ['x\ud83d', 3],
      ['aé b', 2],
    ];
    for (const [text, tokens] of pinned) assert.equal(estimateTokens(text), tokens, JSON.stringify(text));
    // Parts are estimated as their concatenation when no run crosses a part's edge.
    assert.equal(estimateTokens(['Hello, ', 'world!']), estimateTokens('Hello, world!'));
  });

  it('a short prompt is estimated; one near the simple_qa threshold is counted exactly', () => {
    const analyze = createAnalyzer(analysisDefaults);
    const short = analyze(ask('What is the capital of Australia?'));
    assert.equal(short.tokensEstimated, true);
    assert.equal(short.task, 'simple_qa');
    // ~480 tokens of English with a question mark: the band straddles 500, so it is counted.
    const near = analyze(ask(`${'The committee reviewed every budget line again. '.repeat(53)}Why?`));
    assert.equal(near.tokensEstimated, false);
    const counted = createAnalyzer({ ...analysisDefaults, token_count: 'exact' })(
      ask(`${'The committee reviewed every budget line again. '.repeat(53)}Why?`),
    );
    assert.equal(near.promptTokens, counted.promptTokens);
    assert.equal(near.task, counted.task);
  });

  it('a prompt near a context window is counted exactly, and far from it is not', () => {
    const text = 'Summarise the following paragraph in one sentence please. '.repeat(15); // ~150 tokens
    const roomy = createAnalyzer(analysisDefaults, [128_000])(ask(text));
    assert.equal(roomy.tokensEstimated, true);
    // A 1,200-token window with 1,024 reserved for output: 150 within its band reaches it.
    const tight = createAnalyzer(analysisDefaults, [1200])(ask(text));
    assert.equal(tight.tokensEstimated, false);
    // The client's own max_tokens is what the window check adds.
    const small = createAnalyzer(analysisDefaults, [1200])(ask(text, { max_tokens: 10 }));
    assert.equal(small.tokensEstimated, true);
  });

  it('token_count: exact counts every prompt', () => {
    const analyze = createAnalyzer({ ...analysisDefaults, token_count: 'exact' });
    assert.equal(analyze(ask('What is the capital of Australia?')).tokensEstimated, false);
  });
});
