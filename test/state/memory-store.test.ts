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
    await store.settle({ id: 'a', at: 0 }, [{ kind: 'window', key: 't', windowMs: 60_000, delta: -50 }]);
    assert.equal((await store.admit({ id: 'c', buckets })).admitted, true, 'the refund made room');
    assert.equal((await store.admit({ id: 'd', buckets })).admitted, false, 'two requests per window');
    now = 60_999; // the slot of 0-999 ms counts until a whole window has passed after it
    assert.equal((await store.admit({ id: 'e', buckets })).admitted, false, 'still in the window');
    now = 61_000;
    assert.equal((await store.admit({ id: 'e', buckets })).admitted, true, 'the window slid');
  });
});

describe('MemoryStore windows at high rates', () => {
  const windowMs = 60_000;
  const bucket = (amount: number) => ({
    kind: 'window' as const,
    key: 'window:model:m:tokens',
    limit: 1e12,
    windowMs,
    amount,
  });
  const settle = (delta: number) => ({
    kind: 'window' as const,
    key: 'window:model:m:tokens',
    windowMs,
    delta,
  });

  it('keeps totals right as slots leave, and ignores a settle whose slot has left', async () => {
    let now = 0;
    const store = new MemoryStore(() => now);
    for (let index = 0; index < 200; index++) {
      now = index * 500; // two admissions per 1 s slot, slots 0-99
      await store.admit({ id: `a${index}`, buckets: [bucket(10)] });
    }
    now = 100_000; // slots 40-99 still count
    assert.equal(await store.windowTotal('window:model:m:tokens', windowMs), 60 * 2 * 10);
    await store.settle({ id: 'a199', at: 99_500 }, [settle(-4)]);
    await store.settle({ id: 'a3', at: 1_500 }, [settle(-4)]); // its slot left: nothing to correct
    assert.equal(await store.windowTotal('window:model:m:tokens', windowMs), 1196);
    now = 159_999;
    assert.equal(
      await store.windowTotal('window:model:m:tokens', windowMs),
      16,
      'only slot 99 (a198, a199 - 4)',
    );
    now = 160_000;
    assert.equal(await store.windowTotal('window:model:m:tokens', windowMs), 0);
  });

  it('1,000 admissions a second for 75 s: the total is always the exact sum of the slots that count', async () => {
    // The reference counts every admission itself; the store keeps 61 numbers per window.
    let now = 0;
    const store = new MemoryStore(() => now);
    const taken: Array<[number, number]> = [];
    for (let index = 0; index < 75_000; index++) {
      now = index;
      const amount = 100 + (index % 7);
      const result = await store.admit({ id: `r${index}`, buckets: [bucket(amount)] });
      const used = amount - 3 - (index % 5);
      await store.settle({ id: `r${index}`, at: result.now }, [settle(used - amount)]);
      taken.push([index, used]);
      if (index % 4_999 === 0) {
        const first = Math.floor(now / 1000) - 60;
        const expected = taken
          .filter(([at]) => Math.floor(at / 1000) >= first)
          .reduce((sum, [, value]) => sum + value, 0);
        assert.equal(await store.windowTotal('window:model:m:tokens', windowMs), expected, `at ${now} ms`);
      }
    }
  });
});
