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
