/**
 * The request log's JSON columns are written as text directly (request-row.ts): each must be
 * exactly what JSON.stringify gives for the documented row shape, keys in the same order, for
 * every value a summary can carry (escapes, non-finite numbers, optional fields).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttemptRecord, DecisionCandidates, ModelUsage } from '../../src/observability/events.ts';
import {
  attemptsJson,
  type DecisionRow,
  decisionJson,
  type UsageRow,
  usageJson,
} from '../../src/observability/request-row.ts';

const awkward = 'quote " backslash \\ newline \n tab \t control \u0001 emoji 🚀 arrow → lone \ud800';

test('decisionJson is JSON.stringify of the stored decision row', () => {
  const candidates: DecisionCandidates = {
    primary: 'small',
    fallbacks: ['large', awkward],
    scored: [
      { model: 'small', score: 0.812345678, match: 1, health: 1, cost: 0.9, speed: 0.8, quality: 0.6 },
      {
        model: awkward,
        score: Number.NaN,
        match: Number.POSITIVE_INFINITY,
        health: -0,
        cost: 1e-9,
        speed: 123456789.123456,
        quality: -0.33333,
        predicted: 0.777777,
      },
    ],
    excluded: [{ model: 'gone', reason: `${awkward} ${'x'.repeat(400)}` }],
  };
  const expected: DecisionRow = {
    primary: 'small',
    fallbacks: ['large', awkward],
    candidates: [
      { model: 'small', score: 0.8123, match: 1, health: 1, cost: 0.9, speed: 0.8, quality: 0.6 },
      {
        model: awkward,
        score: Number.NaN,
        match: Number.POSITIVE_INFINITY,
        health: 0,
        cost: 0,
        speed: 123456789.1235,
        quality: -0.3333,
        predicted: 0.7778,
      },
    ],
    excluded: [{ model: 'gone', reason: `${awkward} ${'x'.repeat(400)}`.slice(0, 300) }],
  };
  assert.equal(decisionJson(candidates), JSON.stringify(expected));
  const empty: DecisionCandidates = { primary: 'only', fallbacks: [], scored: [], excluded: [] };
  assert.equal(decisionJson(empty), '{"primary":"only","fallbacks":[],"candidates":[],"excluded":[]}');
});

test('usageJson is JSON.stringify of the stored usage rows', () => {
  const usage: ModelUsage[] = [
    {
      model: 'a',
      provider: 'openai',
      promptTokens: 31,
      completionTokens: 12,
      cachedTokens: 0,
      cacheWriteTokens: 4,
      costUsd: 0.0000123,
      estimated: false,
    },
    {
      model: awkward,
      provider: 'anthropic',
      promptTokens: 0,
      completionTokens: 7,
      cachedTokens: 3,
      cacheWriteTokens: 0,
      costUsd: Number.NaN,
      estimated: true,
    },
  ];
  const expected: UsageRow[] = usage.map((entry) => ({
    model: entry.model,
    prompt_tokens: entry.promptTokens,
    completion_tokens: entry.completionTokens,
    cached_tokens: entry.cachedTokens,
    cache_write_tokens: entry.cacheWriteTokens,
    cost_usd: entry.costUsd,
    estimated: entry.estimated,
  }));
  assert.equal(usageJson(usage), JSON.stringify(expected));
  assert.equal(usageJson([]), '[]');
});

test('attemptsJson is JSON.stringify of the stored attempt rows, optional fields only when present', () => {
  const attempts: AttemptRecord[] = [
    {
      model: 'a',
      provider: 'openai',
      outcome: 'rate_limited',
      status: 429,
      message: awkward,
      latencyMs: 12.6,
    },
    {
      model: 'b',
      provider: 'openai',
      outcome: 'success',
      status: 200,
      latencyMs: 3.4,
      startedAt: 1_700_000_000_123.7,
      hedge: true,
    },
    { model: 'c', provider: 'openai', outcome: 'timeout', latencyMs: 30_000, hedge: false },
  ];
  const expected = [
    { model: 'a', outcome: 'rate_limited', status: 429, message: awkward, latency_ms: 13 },
    {
      model: 'b',
      outcome: 'success',
      status: 200,
      message: null,
      latency_ms: 3,
      started_at: 1_700_000_000_124,
      hedge: true,
    },
    { model: 'c', outcome: 'timeout', status: null, message: null, latency_ms: 30_000 },
  ];
  assert.equal(attemptsJson(attempts), JSON.stringify(expected));
  assert.deepEqual(JSON.parse(attemptsJson(attempts)), expected);
  assert.equal(attemptsJson([]), '[]');
});

test('remembered model names stay right past the memory bound (1,100 distinct names, then the first again)', () => {
  const names = Array.from({ length: 1100 }, (_, i) => `model "${i}" \\ ${awkward}`);
  for (const model of [...names, names[0]!, names[1099]!]) {
    const attempts: AttemptRecord[] = [{ model, provider: 'p', outcome: 'success', latencyMs: 1 }];
    assert.equal(JSON.parse(attemptsJson(attempts))[0].model, model);
    const usage: ModelUsage[] = [
      {
        model,
        provider: 'p',
        promptTokens: 1,
        completionTokens: 2,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        costUsd: 0,
        estimated: false,
      },
    ];
    assert.equal(JSON.parse(usageJson(usage))[0].model, model);
  }
});
