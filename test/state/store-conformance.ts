/**
 * What every `Store` must do, as cases run against each implementation (MemoryStore on its
 * injected clock, RedisStore on a real redis-server with real waits). Timed cases are written
 * in units of `harness.unit` ms, and every timed assertion has at least one unit of slack in
 * the direction a slow machine would push it (and 1 ms the other way: timers and the stores'
 * whole-millisecond clocks round).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Bucket, key, type Store, windowSlots } from '../../src/state/store.ts';
import { grantCases } from './store-conformance-grants.ts';

export interface StoreHarness {
  /** A fresh store with nothing in it. */
  readonly store: Store;
  /** Milliseconds per step of the timed cases. */
  readonly unit: number;
  /** Another client of the same shared state (another "instance"). */
  peer(): Promise<Store>;
  /** Let `ms` pass on the store's clock. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface ConformanceCase {
  name: string;
  run(harness: StoreHarness): Promise<void>;
}

/** Poll until `check` passes (pub/sub delivery is asynchronous on Redis). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function near(actual: number | undefined, expected: number, message?: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-9,
    `${message ?? 'value'}: ${actual} is not ${expected}`,
  );
}

function window(key: string, limit: number, windowMs: number, amount = 1): Bucket {
  return { kind: 'window', key, limit, windowMs, amount };
}

const values: ConformanceCase[] = [
  {
    name: 'typed values: set, get, delete, onlyIfAbsent',
    async run({ store }) {
      const breaker = key<{ phase: string; openUntil: number }>('breaker:a');
      assert.equal(await store.get(breaker), undefined);
      assert.equal(await store.set(breaker, { phase: 'open', openUntil: 12.5 }), true);
      assert.deepEqual(await store.get(breaker), { phase: 'open', openUntil: 12.5 });
      for (const value of ['text', 0, -3.25, true, null, [1, 'two', { three: 3 }]]) {
        await store.set(key<unknown>('any'), value);
        assert.deepEqual(await store.get(key<unknown>('any')), value, JSON.stringify(value));
      }
      assert.equal(
        await store.set(breaker, { phase: 'closed', openUntil: 0 }, { onlyIfAbsent: true }),
        false,
      );
      assert.deepEqual(await store.get(breaker), { phase: 'open', openUntil: 12.5 }, 'onlyIfAbsent kept it');
      await store.delete(breaker);
      assert.equal(await store.get(breaker), undefined);
      assert.equal(await store.set(breaker, { phase: 'closed', openUntil: 0 }, { onlyIfAbsent: true }), true);
      assert.deepEqual(await store.get(breaker), { phase: 'closed', openUntil: 0 });
      await store.delete(key('never-written'));
    },
  },
  {
    name: 'typed values: a TTL expires the value; a write without one keeps it for good',
    async run({ store, unit, advance }) {
      await store.set(key<string>('short'), 'x', { ttlMs: 2 * unit });
      await store.set(key<string>('kept'), 'y', { ttlMs: 2 * unit });
      await store.set(key<string>('kept'), 'z');
      assert.equal(await store.get(key<string>('short')), 'x');
      await advance(3 * unit);
      assert.equal(await store.get(key<string>('short')), undefined, 'expired');
      assert.equal(await store.get(key<string>('kept')), 'z', 'the second write dropped the TTL');
      assert.equal(
        await store.set(key<string>('short'), 'again', { onlyIfAbsent: true }),
        true,
        'an expired key is absent',
      );
    },
  },
  {
    name: 'getMany answers in order, undefined for missing and expired keys',
    async run({ store, unit, advance }) {
      assert.deepEqual(await store.getMany([]), []);
      await store.set(key<number>('a'), 1);
      await store.set(key<number>('b'), 2, { ttlMs: unit });
      await store.set(key<number>('c'), 3);
      await advance(2 * unit);
      assert.deepEqual(
        await store.getMany([key<number>('c'), key<number>('missing'), key<number>('b'), key<number>('a')]),
        [3, undefined, undefined, 1],
      );
    },
  },
  {
    name: 'increment: fractional, negative, a new key starts at 0',
    async run({ store }) {
      const spend = key<number>('spend:model:a');
      near(await store.increment(spend, 0.1), 0.1);
      near(await store.increment(spend, 0.2), 0.3);
      near(await store.increment(spend, -1.3), -1);
      near(await store.get(spend), -1, 'get reads the counter');
      assert.equal(await store.increment(key<number>('count'), 5), 5);
      assert.equal(await store.increment(key<number>('count'), 0), 5);
    },
  },
  {
    name: 'increment: the TTL is set when the key is created, not extended after',
    async run({ store, unit, advance }) {
      const count = key<number>('count:key:k');
      assert.equal(await store.increment(count, 1, 2 * unit), 1);
      await advance(unit);
      assert.equal(await store.increment(count, 1, 2 * unit), 2, 'counts on');
      await advance(1.5 * unit);
      assert.equal(await store.get(count), undefined, 'expired 2 units after creation');
      assert.equal(await store.increment(count, 1, 2 * unit), 1, 'a new period starts from 0');
    },
  },
  {
    name: 'versioned compare-and-set: versions grow by one, stale writers lose',
    async run({ store }) {
      const state = key<{ phase: string }>('breaker:b');
      assert.equal(await store.getVersioned(state), undefined);
      assert.equal(await store.compareAndSet(state, 1, { phase: 'open' }), undefined, 'nothing at version 1');
      assert.equal(await store.compareAndSet(state, 0, { phase: 'open' }), 1);
      assert.equal(
        await store.compareAndSet(state, 0, { phase: 'half_open' }),
        undefined,
        'no longer absent',
      );
      assert.equal(await store.compareAndSet(state, 1, { phase: 'half_open' }), 2);
      assert.deepEqual(await store.getVersioned(state), { value: { phase: 'half_open' }, version: 2 });
      await store.set(state, { phase: 'closed' });
      assert.deepEqual(
        await store.getVersioned(state),
        { value: { phase: 'closed' }, version: 3 },
        'set counts',
      );
      assert.equal(await store.compareAndSet(state, 2, { phase: 'open' }), undefined);
      assert.deepEqual(await store.get(state), { phase: 'closed' });
    },
  },
  {
    name: 'versioned compare-and-set: one of many parallel writers wins; a TTL applies',
    async run({ store, unit, advance, peer }) {
      const instances = [store, await peer(), await peer(), await peer()];
      const state = key<string>('breaker:c');
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, index) =>
          instances[index % 4]!.compareAndSet(state, 0, `writer-${index}`),
        ),
      );
      const winners = results.filter((version) => version !== undefined);
      assert.deepEqual(winners, [1], 'exactly one writer');
      const winner = results.indexOf(1);
      assert.deepEqual(await store.getVersioned(state), { value: `writer-${winner}`, version: 1 });
      assert.equal(await store.compareAndSet(state, 1, 'short-lived', 2 * unit), 2);
      await advance(3 * unit);
      assert.equal(await store.getVersioned(state), undefined, 'expired');
      assert.equal(await store.compareAndSet(state, 0, 'fresh'), 1, 'an expired key is absent again');
    },
  },
  {
    name: 'sets: add, remove, members',
    async run({ store }) {
      const index = key<string[]>('keys');
      assert.deepEqual(await store.setMembers(index), []);
      await store.addToSet(index, 'k2');
      await store.addToSet(index, 'k1');
      await store.addToSet(index, 'k2');
      assert.deepEqual((await store.setMembers(index)).sort(), ['k1', 'k2']);
      await store.removeFromSet(index, 'k2');
      await store.removeFromSet(index, 'never-added');
      assert.deepEqual(await store.setMembers(index), ['k1']);
      await store.removeFromSet(index, 'k1');
      assert.deepEqual(await store.setMembers(index), []);
    },
  },
];

const leases: ConformanceCase[] = [
  {
    name: 'leases: one owner at a time, released only by its owner',
    async run({ store }) {
      const trial = key<string>('lease:trial:a');
      assert.equal(await store.acquireLease(trial, 'gateway-1', 60_000), true);
      assert.equal(await store.acquireLease(trial, 'gateway-2', 60_000), false);
      assert.equal(await store.acquireLease(trial, 'gateway-1', 60_000), true, 'the owner renews');
      assert.equal(await store.get(trial), 'gateway-1', 'the holder reads as the value');
      await store.releaseLease(trial, 'gateway-2');
      assert.equal(await store.acquireLease(trial, 'gateway-2', 60_000), false, 'not released by another');
      await store.releaseLease(trial, 'gateway-1');
      assert.equal(await store.acquireLease(trial, 'gateway-2', 60_000), true, 'free after release');
    },
  },
  {
    name: 'leases: expire after their TTL; renewal extends them',
    async run({ store, unit, advance }) {
      const probe = key<string>('lease:probe:a');
      assert.equal(await store.acquireLease(probe, 'gateway-1', 4 * unit), true);
      await advance(2 * unit);
      assert.equal(await store.acquireLease(probe, 'gateway-1', 4 * unit), true, 'renewed to 6 units');
      await advance(3 * unit);
      assert.equal(await store.acquireLease(probe, 'gateway-2', 4 * unit), false, 'still held at 5 units');
      await advance(2 * unit);
      assert.equal(await store.acquireLease(probe, 'gateway-2', 4 * unit), true, 'expired at 6 units');
    },
  },
  {
    name: 'leases: many instances race for one lease, one gets it',
    async run({ store, peer }) {
      const instances = [store, await peer(), await peer()];
      const trial = key<string>('lease:trial:race');
      const taken = await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          instances[index % 3]!.acquireLease(trial, `gateway-${index}`, 60_000),
        ),
      );
      assert.equal(taken.filter(Boolean).length, 1);
      assert.equal(await store.get(trial), `gateway-${taken.indexOf(true)}`);
    },
  },
];

const messages: ConformanceCase[] = [
  {
    name: 'publish reaches every subscriber of the channel, this instance and others',
    async run({ store, peer }) {
      const other = await peer();
      const heard: string[] = [];
      const heardByOther: string[] = [];
      const heardElsewhere: string[] = [];
      const stop = store.subscribe('breaker', (message) => heard.push(`one:${message}`));
      store.subscribe('breaker', (message) => heard.push(`two:${message}`));
      other.subscribe('breaker', (message) => heardByOther.push(message));
      store.subscribe('keys', (message) => heardElsewhere.push(message));
      await store.publish('breaker', 'model-a open');
      await eventually(() => {
        assert.deepEqual(heard.sort(), ['one:model-a open', 'two:model-a open']);
        assert.deepEqual(heardByOther, ['model-a open']);
      });
      stop();
      await other.publish('breaker', 'model-a closed');
      await eventually(() => assert.deepEqual(heardByOther, ['model-a open', 'model-a closed']));
      await eventually(() => assert.equal(heard.length, 3));
      assert.deepEqual(heard.sort(), ['one:model-a open', 'two:model-a closed', 'two:model-a open']);
      assert.deepEqual(heardElsewhere, [], 'another channel heard nothing');
    },
  },
];

const admission: ConformanceCase[] = [
  {
    name: 'admission: all buckets or none; a refused admission takes nothing',
    async run({ store }) {
      const expiresAtMs = (await store.time()) + 3_600_000;
      const buckets: Bucket[] = [
        window('r', 2, 60_000),
        window('t', 100, 60_000, 60),
        { kind: 'concurrency', key: 'slots', limit: 10, leaseMs: 60_000 },
        { kind: 'quota', key: 'budget', limit: 5, amount: 1.5, expiresAtMs },
      ];
      const first = await store.admit({ id: 'a', buckets });
      assert.equal(first.admitted, true);
      assert.equal(first.refusedIndex, undefined);
      assert.deepEqual(
        first.buckets.map((state) => state.remaining),
        [1, 40, 9, 3.5],
        'remaining after this admission',
      );
      const refused = await store.admit({ id: 'b', buckets });
      assert.equal(refused.admitted, false);
      assert.equal(refused.refusedIndex, 1, 'the tokens window refused');
      assert.deepEqual(
        refused.buckets.map((state) => state.remaining),
        [1, 40, 9, 3.5],
        'remaining now, nothing taken',
      );
      assert.equal(await store.windowTotal('r', 60_000), 1);
      assert.equal(await store.windowTotal('t', 60_000), 60);
      near(await store.get(key<number>('budget')), 1.5, 'quota charged once');
      const small = await store.admit({ id: 'c', buckets: [buckets[0]!, window('t', 100, 60_000, 40)] });
      assert.equal(small.admitted, true, 'exactly the remaining amount fits');
      assert.deepEqual(
        small.buckets.map((state) => state.remaining),
        [0, 0],
      );
    },
  },
  {
    name: 'admission: the window slides; retry-after says when the oldest entries leave',
    async run({ store, unit, advance }) {
      const rpm = window('window:model:a:requests', 2, 4 * unit);
      const slot = (4 * unit) / windowSlots; // an amount counts for a window and up to one slot
      const first = await store.admit({ id: 'a', buckets: [rpm] });
      assert.equal(first.admitted, true);
      const leaves = first.buckets[0]!.resetMs;
      assert.ok(
        leaves > 4 * unit && leaves <= 4 * unit + slot + 1e-6,
        `${leaves}: it leaves after the window`,
      );
      await advance(2 * unit);
      assert.equal((await store.admit({ id: 'b', buckets: [rpm] })).admitted, true);
      const refused = await store.admit({ id: 'c', buckets: [rpm] });
      assert.equal(refused.admitted, false);
      assert.equal(refused.refusedIndex, 0);
      const retry = refused.retryAfterMs!;
      assert.ok(retry > 0 && retry <= 2 * unit + slot + 1, `retry after ${retry}: when 'a' leaves`);
      const reset = refused.buckets[0]!.resetMs;
      assert.ok(reset > 2 * unit - 1 && reset <= 4 * unit + slot + 1, `reset ${reset}: when 'b' leaves`);
      await advance(2.5 * unit);
      assert.equal((await store.admit({ id: 'd', buckets: [rpm] })).admitted, true, "'a' left the window");
      assert.equal((await store.admit({ id: 'e', buckets: [rpm] })).admitted, false, "'b' is still in it");
      assert.equal(await store.windowTotal(rpm.key, rpm.kind === 'window' ? rpm.windowMs : 0), 2);
    },
  },
  {
    name: 'admission: a large amount waits for as many old entries as it needs',
    async run({ store, unit, advance }) {
      const tpm = (amount: number) => window('window:model:a:tokens', 10, 6 * unit, amount);
      const slot = (6 * unit) / windowSlots;
      assert.equal((await store.admit({ id: 'a', buckets: [tpm(4)] })).admitted, true);
      await advance(2 * unit);
      assert.equal((await store.admit({ id: 'b', buckets: [tpm(4)] })).admitted, true);
      const needsOne = await store.admit({ id: 'c', buckets: [tpm(6)] });
      assert.equal(needsOne.admitted, false);
      assert.ok(
        needsOne.retryAfterMs! > 2 * unit && needsOne.retryAfterMs! <= 4 * unit + slot + 1,
        'after a leaves',
      );
      const needsBoth = await store.admit({ id: 'd', buckets: [tpm(10)] });
      assert.ok(
        needsBoth.retryAfterMs! > 4 * unit && needsBoth.retryAfterMs! <= 6 * unit + slot + 1,
        'after b leaves',
      );
      assert.equal(await store.windowTotal('window:model:a:tokens', 6 * unit), 8, 'refusals took nothing');
    },
  },
  {
    name: 'admission: a busy window counts every admission of two instances, and old ones leave together',
    async run({ store, unit, advance, peer }) {
      const instances = [store, await peer()];
      const busy = 'window:model:busy:requests';
      const rpm = (amount: number) => window(busy, 700, 8 * unit, amount);
      const slot = (8 * unit) / windowSlots;
      const fill = async (from: number, count: number) => {
        const results = await Promise.all(
          Array.from({ length: count }, (_, index) =>
            instances[index % 2]!.admit({ id: `r${from + index}`, buckets: [rpm(1)] }),
          ),
        );
        assert.equal(results.filter((result) => result.admitted).length, count);
      };
      await fill(0, 550);
      await advance(3 * unit);
      await fill(550, 50);
      // 100 free now; 250 need 150 of the old entries to leave, 651 all of them and a new one.
      const fromOld = await store.admit({ id: 'a', buckets: [rpm(250)] });
      assert.equal(fromOld.admitted, false);
      assert.ok(
        fromOld.retryAfterMs! <= 5 * unit + slot + 1,
        `${fromOld.retryAfterMs}: when old entries leave`,
      );
      const fromNew = await store.admit({ id: 'b', buckets: [rpm(651)] });
      assert.ok(fromNew.retryAfterMs! > 5 * unit, `${fromNew.retryAfterMs}: needs a new entry to leave`);
      await advance(6 * unit);
      assert.equal(await store.windowTotal(busy, 8 * unit), 50, 'the 550 old entries left at once');
      await advance(3 * unit);
      const after = await store.admit({ id: 'c', buckets: [rpm(1)] });
      assert.equal(after.admitted, true);
      assert.equal(after.buckets[0]!.remaining, 699);
    },
  },
  {
    name: 'admission: settle refunds and charges the reservation',
    async run({ store }) {
      const expiresAtMs = (await store.time()) + 3_600_000;
      const tokens = window('t', 100, 60_000, 60);
      const budget: Bucket = { kind: 'quota', key: 'budget:key:k:day:1', limit: 1, amount: 0.5, expiresAtMs };
      const a = await store.admit({ id: 'a', buckets: [tokens, budget] });
      assert.equal(a.admitted, true);
      await store.settle({ id: 'a', at: a.now }, [
        { kind: 'window', key: 't', windowMs: 60_000, delta: -50 },
        { kind: 'quota', key: budget.key, delta: -0.3, expiresAtMs },
      ]);
      assert.equal(await store.windowTotal('t', 60_000), 10, 'real usage was 10 tokens');
      near(await store.get(key<number>(budget.key)), 0.2, 'real cost was 0.2');
      const b = await store.admit({ id: 'b', buckets: [tokens, budget] });
      assert.equal(b.admitted, true);
      await store.settle({ id: 'b', at: b.now }, [
        { kind: 'window', key: 't', windowMs: 60_000, delta: 25 },
        { kind: 'quota', key: budget.key, delta: 0.25, expiresAtMs },
      ]);
      assert.equal(await store.windowTotal('t', 60_000), 95, 'the second used 85');
      near(await store.get(key<number>(budget.key)), 0.95);
      const refused = await store.admit({ id: 'c', buckets: [window('t', 100, 60_000, 6)] });
      assert.equal(refused.admitted, false, 'the charge counts against the limit');
      await store.settle({ id: 'long-ago', at: a.now - 120_000 }, [
        { kind: 'window', key: 't', windowMs: 60_000, delta: -90 },
      ]);
      assert.equal(
        await store.windowTotal('t', 60_000),
        95,
        'an admission that left the window changes nothing',
      );
    },
  },
  {
    name: 'admission: settles issued in one turn each apply to their own admission (a batch in Redis)',
    async run({ store }) {
      const expiresAtMs = (await store.time()) + 3_600_000;
      const ids = Array.from({ length: 250 }, (_, index) => `batch-${index}`);
      const admittedAt: number[] = [];
      for (const id of ids) {
        const admitted = await store.admit({
          id,
          buckets: [
            window('tokens', 1_000_000, 60_000, 100),
            { kind: 'concurrency', key: 'slots:batch', limit: 1_000, leaseMs: 60_000 },
            { kind: 'quota', key: 'budget:batch', limit: 1_000, amount: 1, expiresAtMs },
          ],
        });
        assert.equal(admitted.admitted, true);
        admittedAt.push(admitted.now);
      }
      // All at once, in one turn: more than one script's worth for the Redis store.
      await Promise.all(
        ids.map((id, index) =>
          store.settle({ id, at: admittedAt[index]! }, [
            { kind: 'window', key: 'tokens', windowMs: 60_000, delta: index % 2 === 0 ? -60 : 20 },
            { kind: 'concurrency', key: 'slots:batch' },
            { kind: 'quota', key: 'budget:batch', delta: -0.5, expiresAtMs },
          ]),
        ),
      );
      // 125 settled to 40 tokens, 125 to 120.
      assert.equal(await store.windowTotal('tokens', 60_000), 125 * 40 + 125 * 120);
      near(await store.get(key<number>('budget:batch')), 125);
      const slots = await store.admit({
        id: 'after',
        buckets: [{ kind: 'concurrency', key: 'slots:batch', limit: 1, leaseMs: 60_000 }],
      });
      assert.equal(slots.admitted, true, 'every slot was given back');
    },
  },
  {
    name: 'admission: concurrency slots are given back by settle and expire with their lease',
    async run({ store, unit, advance }) {
      const slots = (leaseMs: number): Bucket => ({
        kind: 'concurrency',
        key: 'slots:key:k',
        limit: 2,
        leaseMs,
      });
      const first = await store.admit({ id: 'a', buckets: [slots(60_000)] });
      assert.equal(first.admitted, true);
      const second = await store.admit({ id: 'b', buckets: [slots(60_000)] });
      assert.equal(second.buckets[0]!.remaining, 0);
      const refused = await store.admit({ id: 'c', buckets: [slots(60_000)] });
      assert.equal(refused.admitted, false);
      assert.ok(
        refused.retryAfterMs! > 50_000 && refused.retryAfterMs! <= 60_000,
        'until the first lease ends',
      );
      await store.settle({ id: 'a', at: first.now }, [{ kind: 'concurrency', key: 'slots:key:k' }]);
      assert.equal(
        (await store.admit({ id: 'c', buckets: [slots(2 * unit)] })).admitted,
        true,
        'a gave its slot back',
      );
      await store.settle({ id: 'b', at: second.now }, [{ kind: 'concurrency', key: 'slots:key:k' }]);
      assert.equal((await store.admit({ id: 'd', buckets: [slots(2 * unit)] })).admitted, true);
      assert.equal((await store.admit({ id: 'e', buckets: [slots(2 * unit)] })).admitted, false);
      await advance(3 * unit);
      const afterExpiry = await store.admit({ id: 'e', buckets: [slots(60_000)] });
      assert.equal(afterExpiry.admitted, true, 'the dead holders lost their slots');
      assert.equal(afterExpiry.buckets[0]!.remaining, 1);
    },
  },
  {
    name: 'admission: a quota holds until its period ends, fractional amounts add up exactly',
    async run({ store, unit, advance }) {
      const periodEnd = (await store.time()) + 3 * unit;
      const budget = (amount: number, expiresAtMs = periodEnd): Bucket => ({
        kind: 'quota',
        key: 'budget:key:k:day:1',
        limit: 1,
        amount,
        expiresAtMs,
      });
      let admitted = 0;
      for (let index = 0; index < 11; index++) {
        if ((await store.admit({ id: `a${index}`, buckets: [budget(0.1)] })).admitted) admitted++;
      }
      assert.equal(admitted, 10, 'ten dimes in a dollar, whichever way the sum rounds');
      let inSeventy = 0;
      for (let index = 0; index < 8; index++) {
        const dime: Bucket = {
          kind: 'quota',
          key: 'budget:other',
          limit: 0.7,
          amount: 0.1,
          expiresAtMs: periodEnd,
        };
        if ((await store.admit({ id: `s${index}`, buckets: [dime] })).admitted) inSeventy++;
      }
      assert.equal(inSeventy, 7, 'seven dimes in 70 cents');
      const refused = await store.admit({ id: 'b', buckets: [budget(0.1)] });
      assert.equal(refused.admitted, false);
      assert.ok(refused.retryAfterMs! > 0 && refused.retryAfterMs! <= 3 * unit, 'until the period ends');
      assert.ok(refused.buckets[0]!.resetMs <= 3 * unit);
      await advance(4 * unit);
      const next = await store.admit({ id: 'c', buckets: [budget(0.25, (await store.time()) + 3 * unit)] });
      assert.equal(next.admitted, true, 'a new period');
      near(next.buckets[0]!.remaining, 0.75);
    },
  },
  {
    name: 'admission: an amount larger than the limit is never admitted (retry after Infinity)',
    async run({ store }) {
      const expiresAtMs = (await store.time()) + 60_000;
      const tooMany = await store.admit({ id: 'a', buckets: [window('w', 2, 60_000, 3)] });
      assert.equal(tooMany.admitted, false);
      assert.equal(tooMany.retryAfterMs, Number.POSITIVE_INFINITY);
      assert.equal(tooMany.buckets[0]!.remaining, 2);
      const tooDear = await store.admit({
        id: 'b',
        buckets: [window('w', 2, 60_000, 1), { kind: 'quota', key: 'q', limit: 1, amount: 2, expiresAtMs }],
      });
      assert.equal(tooDear.admitted, false);
      assert.equal(tooDear.refusedIndex, 1);
      assert.equal(tooDear.retryAfterMs, Number.POSITIVE_INFINITY);
      const noSlots = await store.admit({
        id: 'c',
        buckets: [{ kind: 'concurrency', key: 's', limit: 0, leaseMs: 1 }],
      });
      assert.equal(noSlots.retryAfterMs, Number.POSITIVE_INFINITY);
      assert.equal(await store.windowTotal('w', 60_000), 0, 'nothing taken');
    },
  },
  {
    name: 'admission: parallel admissions from several instances never over-admit',
    async run({ store, peer }) {
      const instances = [store, await peer(), await peer(), await peer()];
      const expiresAtMs = (await store.time()) + 60_000;
      const buckets: Bucket[] = [
        window('window:model:a:requests', 37, 60_000),
        { kind: 'concurrency', key: 'slots:key:k', limit: 1000, leaseMs: 60_000 },
        { kind: 'quota', key: 'budget:key:k:total', limit: 100, amount: 0.5, expiresAtMs },
      ];
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, index) => instances[index % 4]!.admit({ id: `r${index}`, buckets })),
      );
      assert.equal(results.filter((result) => result.admitted).length, 37);
      assert.equal(await store.windowTotal('window:model:a:requests', 60_000), 37);
      near(await store.get(key<number>('budget:key:k:total')), 18.5, 'only admitted requests were charged');
      const slots: Bucket = { kind: 'concurrency', key: 'slots:model:b', limit: 5, leaseMs: 60_000 };
      const slotResults = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          instances[index % 4]!.admit({ id: `s${index}`, buckets: [slots] }),
        ),
      );
      assert.equal(slotResults.filter((result) => result.admitted).length, 5);
    },
  },
  {
    name: "the store's clock moves forward and stamps admissions",
    async run({ store, unit, advance }) {
      const before = await store.time();
      await advance(unit);
      const result = await store.admit({ id: 'a', buckets: [window('w', 1, 60_000)] });
      const after = await store.time();
      // A millisecond of slack: timers round, and the store's clock is floored to whole ms.
      assert.ok(result.now >= before + unit - 1, 'the admission is stamped after the wait');
      assert.ok(result.now <= after);
      assert.equal(Number.isInteger(result.now), true, 'whole milliseconds');
    },
  },
];

export const storeConformanceCases: readonly ConformanceCase[] = [
  ...values,
  ...leases,
  ...messages,
  ...admission,
  ...grantCases,
];

/** Run every case, each on a fresh harness. */
export function describeStoreConformance(name: string, createHarness: () => Promise<StoreHarness>): void {
  describe(name, () => {
    for (const conformanceCase of storeConformanceCases) {
      it(conformanceCase.name, async () => {
        const harness = await createHarness();
        try {
          await conformanceCase.run(harness);
        } finally {
          await harness.close();
        }
      });
    }
  });
}
