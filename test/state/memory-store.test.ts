import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { key, MemoryStore } from '../../src/state/store.ts';
import { describeStoreConformance } from './store-conformance.ts';

// One process: a peer is the same store; time moves only when the case says so.
describeStoreConformance('MemoryStore conformance', async () => {
  let now = 1_800_000_000_000;
  const store = new MemoryStore(() => now);
  return {
    store,
    unit: 1000,
    peer: async () => store,
    advance: async (ms) => {
      now += ms;
    },
    close: () => store.close(),
  };
});

describe('MemoryStore', () => {
  it('gets, sets, increments and expires on its clock', async () => {
    let now = 0;
    const store = new MemoryStore(() => now);
    await store.set(key<{ phase: string }>('breaker:a'), { phase: 'open' }, { ttlMs: 1000 });
    assert.deepEqual(await store.get(key('breaker:a')), { phase: 'open' });
    assert.equal(await store.increment(key('rpm:a'), 1, 60_000), 1);
    assert.equal(await store.increment(key('rpm:a'), 2, 60_000), 3);
    now = 1000;
    assert.equal(await store.get(key('breaker:a')), undefined, 'expired');
    now = 60_000;
    assert.equal(await store.increment(key('rpm:a'), 1, 60_000), 1, 'a new window starts after the TTL');
  });

  it('admits all buckets or none, and settles reservations', async () => {
    let now = 0;
    const store = new MemoryStore(() => now);
    const buckets = [
      { kind: 'window' as const, key: 'r', limit: 2, windowMs: 60_000, amount: 1 },
      { kind: 'window' as const, key: 't', limit: 100, windowMs: 60_000, amount: 60 },
    ];
    assert.equal((await store.admit({ id: 'a', buckets })).admitted, true);
    const refused = await store.admit({ id: 'b', buckets });
    assert.equal(refused.admitted, false);
    assert.equal(refused.refusedIndex, 1);
    assert.equal(await store.windowTotal('r', 60_000), 1, 'a refused admission takes nothing');
    await store.settle('a', [{ kind: 'window', key: 't', windowMs: 60_000, delta: -50 }]);
    assert.equal((await store.admit({ id: 'c', buckets })).admitted, true, 'the refund made room');
    assert.equal((await store.admit({ id: 'd', buckets })).admitted, false, 'two requests per window');
    now = 60_001;
    assert.equal((await store.admit({ id: 'e', buckets })).admitted, true, 'the window slid');
  });
});

describe('MemoryStore window logs at high rates', () => {
  const bucket = (amount: number) => ({
    kind: 'window' as const,
    key: 'window:model:m:tokens',
    limit: 1e12,
    windowMs: 60_000,
    amount,
  });
  const settle = (delta: number) => ({
    kind: 'window' as const,
    key: 'window:model:m:tokens',
    windowMs: 60_000,
    delta,
  });

  it('keeps totals right across the pruning of a long log, and ignores a settle of a pruned entry', async () => {
    let now = 0;
    const store = new MemoryStore(() => now);
    for (let index = 0; index < 200; index++) {
      now = index;
      await store.admit({ id: `a${index}`, buckets: [bucket(10)] });
    }
    now = 60_149; // the first 150 entries have left the window
    assert.equal(await store.windowTotal('window:model:m:tokens', 60_000), 500);
    await store.settle('a199', [settle(-4)]);
    await store.settle('a3', [settle(-4)]); // pruned: nothing to correct
    assert.equal(await store.windowTotal('window:model:m:tokens', 60_000), 496);
    now = 60_198;
    assert.equal(await store.windowTotal('window:model:m:tokens', 60_000), 6, 'only a199 (10 - 4) is left');
  });

  it('admits and settles in time independent of how many entries the window holds', async () => {
    // 1000 requests a second with a tpm cap: 60,000 entries in the window. Scanning the log from
    // its oldest entry (or shifting it on every prune) cost ~600 µs per request; now ~2 µs.
    let now = 0;
    const store = new MemoryStore(() => now);
    const request = async (index: number) => {
      now = index;
      await store.admit({ id: `r${index}`, buckets: [bucket(100)] });
      await store.settle(`r${index}`, [settle(-3)]);
    };
    for (let index = 0; index < 70_000; index++) await request(index);
    const started = performance.now();
    for (let index = 70_000; index < 75_000; index++) await request(index);
    const perRequestUs = ((performance.now() - started) * 1000) / 5000;
    assert.ok(perRequestUs < 100, `${perRequestUs.toFixed(1)} µs per admit + settle with 60k entries`);
    assert.equal(await store.windowTotal('window:model:m:tokens', 60_000), 60_000 * 97);
  });
});
