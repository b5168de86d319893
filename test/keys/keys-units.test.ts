/**
 * The pure parts of the keys subsystem: key shape, UTC periods, reset text, a grant's buckets and
 * settling; and the usage recorder's SQLite rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyDatabase } from '../../src/keys/database.ts';
import { grantFor, resetText } from '../../src/keys/grant.ts';
import { newKey, parseKey, toBase62 } from '../../src/keys/key-format.ts';
import { currentPeriod } from '../../src/keys/periods.ts';
import type { KeyRecord } from '../../src/keys/record.ts';
import { applyUpdate } from '../../src/keys/record.ts';
import { KeyHasher } from '../../src/keys/secret.ts';
import { KeyUsageRecorder } from '../../src/keys/usage.ts';
import { MemoryStore } from '../../src/state/store.ts';

describe('key format', () => {
  it('keys are sk-sy-<12 char id>_<43 base62 chars>, distinct, and parse back to their id', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { id, key } = newKey();
      assert.match(key, /^sk-sy-[a-z0-9]{12}_[0-9A-Za-z]{43}$/);
      assert.equal(parseKey(key)?.id, id);
      seen.add(key);
    }
    assert.equal(seen.size, 200);
    for (const bad of [
      'sk-sy-',
      'sk-sy-abc_def',
      `sk-sy-ABCDEFGHIJKL_${'a'.repeat(43)}`,
      `sk-sy-abcdefghijkl_${'a'.repeat(42)}`,
    ])
      assert.equal(parseKey(bad), undefined, bad);
  });

  it('base62 keeps every bit of 32 bytes in 43 characters', () => {
    assert.equal(toBase62(Buffer.alloc(32, 0xff), 43).length, 43);
    assert.equal(toBase62(Buffer.alloc(32, 0), 43), '0'.repeat(43));
    assert.equal(toBase62(Buffer.from([0x01, 0x00]), 3), '048'); // 256 = 4*62 + 8
  });

  it('hashes are keyed: another secret gives another hash, and a near-miss key does not match', () => {
    const { key } = newKey();
    const one = new KeyHasher(Buffer.from('one'));
    const two = new KeyHasher(Buffer.from('two'));
    assert.notEqual(one.hash(key), two.hash(key));
    assert.ok(one.matches(key, one.hash(key)));
    // The last character changed (to 'x', or to 'y' when it is an 'x': 1 key in 62 ended in one).
    const nearMiss = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
    assert.notEqual(nearMiss, key);
    assert.ok(!one.matches(nearMiss, one.hash(key)));
    assert.ok(!one.matches(key, 'not-hex'));
    assert.match(one.idOf('static'), /^key_[0-9a-f]{16}$/);
  });
});

describe('budget periods (UTC)', () => {
  it('day, ISO week (Monday), month and total', () => {
    const at = Date.UTC(2026, 11, 3, 23, 59, 59); // Thursday 3 December 2026
    assert.deepEqual(currentPeriod('day', at), {
      label: 'day:2026-12-03',
      startMs: Date.UTC(2026, 11, 3),
      endMs: Date.UTC(2026, 11, 4),
    });
    assert.deepEqual(currentPeriod('week', at), {
      label: 'week:2026-11-30',
      startMs: Date.UTC(2026, 10, 30),
      endMs: Date.UTC(2026, 11, 7),
    });
    assert.equal(
      currentPeriod('week', Date.UTC(2026, 11, 6, 12)).label,
      'week:2026-11-30',
      'Sunday ends the week',
    );
    assert.equal(
      currentPeriod('week', Date.UTC(2026, 11, 7)).label,
      'week:2026-12-07',
      'Monday starts the next',
    );
    assert.deepEqual(currentPeriod('month', at), {
      label: 'month:2026-12',
      startMs: Date.UTC(2026, 11, 1),
      endMs: Date.UTC(2027, 0, 1),
    });
    assert.equal(currentPeriod('total', at).label, 'total');
    assert.ok(currentPeriod('total', at).endMs > Date.UTC(9000, 0, 1));
  });

  it('a remembered span is used only inside it: the next instant after it, or one before it, gets its own', () => {
    const lastMs = Date.UTC(2026, 11, 3) + 86_400_000 - 1;
    assert.equal(currentPeriod('day', lastMs).label, 'day:2026-12-03');
    assert.equal(currentPeriod('day', lastMs + 1).label, 'day:2026-12-04');
    assert.equal(currentPeriod('day', lastMs).label, 'day:2026-12-03', 'back to the earlier day');
    assert.equal(currentPeriod('month', Date.UTC(2026, 11, 31, 23)).label, 'month:2026-12');
    assert.equal(currentPeriod('month', Date.UTC(2027, 0, 1)).label, 'month:2027-01');
  });
});

describe('reset text (OpenAI x-ratelimit-reset-*)', () => {
  it('writes ms below a second, then seconds, minutes and hours', () => {
    assert.equal(resetText(20), '20ms');
    assert.equal(resetText(6000), '6s');
    assert.equal(resetText(5200), '6s');
    assert.equal(resetText(60_000), '1m0s');
    assert.equal(resetText(90_000), '1m30s');
    assert.equal(resetText(7_200_000), '2h0m0s');
  });
});

describe('a key grant', () => {
  const now = Date.UTC(2026, 11, 3, 12);
  const record: KeyRecord = {
    id: 'abcdefghijkl',
    name: 'test',
    key_hash: '00',
    created_at: now,
    updated_at: now,
    rpm: 10,
    tpm: 1000,
    max_concurrency: 2,
    budget: { usd: 5, period: 'day' },
    models: ['a', 'auto'],
  };

  it('builds budget, rpm, tpm and concurrency buckets, and settles to the real usage', () => {
    const grant = grantFor(record, { leaseMs: 90_000, now: () => now });
    assert.deepEqual([...(grant.models ?? [])], ['a'], 'auto adds nothing to the allowed set');
    const admission = grant.admission!({ tokens: 300, costUsd: 0.02 })!;
    assert.deepEqual(admission.buckets, [
      {
        kind: 'quota',
        key: 'budget:key:abcdefghijkl:day:2026-12-03',
        limit: 5,
        amount: 0.02,
        expiresAtMs: Date.UTC(2026, 11, 4),
      },
      { kind: 'window', key: 'window:key:abcdefghijkl:requests', limit: 10, windowMs: 60_000, amount: 1 },
      { kind: 'window', key: 'window:key:abcdefghijkl:tokens', limit: 1000, windowMs: 60_000, amount: 300 },
      { kind: 'concurrency', key: 'slots:key:abcdefghijkl', limit: 2, leaseMs: 90_000 },
    ]);
    const settled = admission.settle({ tokens: 120, costUsd: 0.005 });
    assert.equal(settled.length, 3);
    assert.equal(settled[0]!.kind, 'quota');
    assert.ok(Math.abs((settled[0] as { delta: number }).delta + 0.015) < 1e-12);
    assert.deepEqual(settled[1], {
      kind: 'window',
      key: 'window:key:abcdefghijkl:tokens',
      windowMs: 60_000,
      delta: -180,
    });
    assert.deepEqual(settled[2], { kind: 'concurrency', key: 'slots:key:abcdefghijkl' });
    // Never reached a model: everything reserved comes back (the request still counts against rpm).
    const refunded = admission.settle(undefined);
    assert.equal((refunded[0] as { delta: number }).delta, -0.02);
    assert.equal((refunded[1] as { delta: number }).delta, -300);
  });

  it('describes each refusal with the right code, message and headers', () => {
    const admission = grantFor(record, { leaseMs: 90_000, now: () => now }).admission!({
      tokens: 300,
      costUsd: 0.02,
    })!;
    const [budget, rpm, tpm, slots] = admission.buckets;
    const spent = admission.describe(budget!, 3_600_000);
    assert.equal(spent.code, 'insufficient_quota');
    assert.equal(spent.message, 'Budget of $5.00 per day spent for key abcdefghijkl.');
    assert.deepEqual(spent.headers, { 'retry-after': '3600' });
    const limited = admission.describe(rpm!, 5_500);
    assert.equal(limited.code, 'rate_limit_exceeded');
    assert.equal(limited.message, 'Rate limit reached for key abcdefghijkl: 10 requests per minute.');
    assert.deepEqual(limited.headers, {
      'retry-after': '6',
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '6s',
    });
    const tooBig = admission.describe(tpm!, Number.POSITIVE_INFINITY);
    assert.match(tooBig.message, /needs up to 300 tokens, more than the limit of 1000/);
    assert.equal(tooBig.headers?.['retry-after'], undefined);
    assert.equal(admission.describe(slots!, 80_000).headers?.['retry-after'], '1');
    assert.deepEqual(
      admission.headers!([
        { remaining: 4.98, resetMs: 3_600_000 },
        { remaining: 9, resetMs: 60_000 },
        { remaining: 700, resetMs: 60_000 },
        { remaining: 1, resetMs: 0 },
      ]),
      {
        'x-ratelimit-limit-requests': '10',
        'x-ratelimit-remaining-requests': '9',
        'x-ratelimit-reset-requests': '1m0s',
        'x-ratelimit-limit-tokens': '1000',
        'x-ratelimit-remaining-tokens': '700',
        'x-ratelimit-reset-tokens': '1m0s',
      },
    );
  });

  it('a key without limits has no admission; a patch clears with null and leaves absent fields alone', () => {
    const bare: KeyRecord = {
      id: 'abcdefghijkl',
      name: 'bare',
      key_hash: '00',
      created_at: now,
      updated_at: now,
    };
    assert.equal(grantFor(bare, { leaseMs: 1 }).admission, undefined);
    const patched = applyUpdate(record, { rpm: null, name: 'renamed', expires_at: 1_900_000_000 }, now + 1);
    assert.equal(patched.rpm, undefined);
    assert.equal(patched.tpm, 1000);
    assert.equal(patched.name, 'renamed');
    assert.equal(patched.expires_at, 1_900_000_000_000);
    assert.equal(patched.updated_at, now + 1);
  });
});

describe('key usage recorder', () => {
  it('writes the tallies to the store and the SQLite rows within its interval, and at once on flush', async () => {
    const database = new KeyDatabase(':memory:');
    const store = new MemoryStore();
    const at = Date.UTC(2026, 11, 3, 12);
    const recorder = new KeyUsageRecorder({
      store,
      database,
      now: () => at,
      flushIntervalMs: 100,
      onError: (error) => assert.fail(String(error)),
    });
    const usage = async () =>
      (await recorder.usageOf([{ id: 'k3x9q0m2w7ab' } as KeyRecord])).get('k3x9q0m2w7ab');
    try {
      recorder.requestFinished({ clientKeyId: 'k3x9q0m2w7ab', costUsd: 0.5 });
      recorder.requestFinished({ clientKeyId: 'k3x9q0m2w7ab', costUsd: 0.25 });
      assert.deepEqual(await usage(), { requests: 0, spendUsd: 0 }, 'nothing written yet');
      assert.equal(database.usage('k3x9q0m2w7ab', 'total'), undefined);
      await sleep(250);
      assert.deepEqual(
        await usage(),
        { requests: 2, spendUsd: 0.75, lastUsedAt: at },
        'written by the timer',
      );
      for (const period of ['total', 'day:2026-12-03', 'week:2026-11-30', 'month:2026-12']) {
        assert.deepEqual(
          database.usage('k3x9q0m2w7ab', period),
          { usd: 0.75, requests: 2, lastUsedAt: at },
          period,
        );
      }
      recorder.requestFinished({ clientKeyId: 'k3x9q0m2w7ab', costUsd: 0.25 });
      await recorder.flush(); // what a read through KeyService does first
      assert.deepEqual(await usage(), { requests: 3, spendUsd: 1, lastUsedAt: at });
      assert.deepEqual(database.usage('k3x9q0m2w7ab', 'total'), { usd: 1, requests: 3, lastUsedAt: at });
    } finally {
      await recorder.close();
      database.close();
    }
  });
});
