/**
 * Conformance cases for `Bucket.extra`: the units an admission takes beyond its amount for an
 * admission lease (`src/state/admission-leases.ts`). Both stores follow `leaseGrant`.
 */
import assert from 'node:assert/strict';
import { key, leaseSlotId } from '../../src/state/store.ts';
import type { ConformanceCase } from './store-conformance.ts';

function near(actual: number | undefined, expected: number, message: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-9,
    `${message}: ${actual} is not ${expected}`,
  );
}

export const grantCases: ConformanceCase[] = [
  {
    name: 'extra units: granted while over half the limit stays free, in whole amounts, seen by every client',
    async run({ store, peer }) {
      const bucket = { kind: 'window', key: 'rpm:lease', limit: 100, windowMs: 60_000, amount: 1 } as const;
      // 99 left after the amount: a quarter of the 49 above half the limit, whole: 12.
      const first = await store.admit({ id: 'a', buckets: [{ ...bucket, extra: 40 }] });
      assert.equal(first.admitted, true);
      assert.equal(first.buckets[0]!.granted, 12);
      assert.equal(first.buckets[0]!.remaining, 87, 'the granted units count as taken');
      assert.equal(await store.windowTotal('rpm:lease', 60_000), 13);
      const other = await peer();
      assert.equal((await other.admit({ id: 'b', buckets: [bucket] })).buckets[0]!.remaining, 86);
      // The lease's unused units go back to the slot they were taken in.
      await store.settle({ id: 'a', at: first.now }, [
        { kind: 'window', key: 'rpm:lease', windowMs: 60_000, delta: -12 },
      ]);
      assert.equal(await other.windowTotal('rpm:lease', 60_000), 2);
      // Asking for less than the rule allows gets what was asked.
      const small = await store.admit({ id: 'c', buckets: [{ ...bucket, extra: 3 }] });
      assert.equal(small.buckets[0]!.granted, 3);
    },
  },
  {
    name: 'extra units: none near the limit, and asking for them never refuses',
    async run({ store }) {
      const bucket = { kind: 'window', key: 'rpm:near', limit: 10, windowMs: 60_000 } as const;
      await store.admit({ id: 'a', buckets: [{ ...bucket, amount: 6 }] });
      const exact = await store.admit({ id: 'b', buckets: [{ ...bucket, amount: 1, extra: 5 }] });
      assert.equal(exact.admitted, true);
      assert.equal(exact.buckets[0]!.granted, undefined, 'three left: under half the limit');
      assert.equal(exact.buckets[0]!.remaining, 3);
      const last = await store.admit({ id: 'c', buckets: [{ ...bucket, amount: 3, extra: 100 }] });
      assert.equal(last.admitted, true, 'the amount fits; the extra is only a wish');
      assert.equal(last.buckets[0]!.remaining, 0);
      const refused = await store.admit({ id: 'd', buckets: [{ ...bucket, amount: 1, extra: 100 }] });
      assert.equal(refused.admitted, false);
      assert.equal(refused.buckets[0]!.granted, undefined, 'a refused admission takes nothing');
    },
  },
  {
    name: 'extra units: a quota grants in whole amounts, a concurrency bucket grants slots its settle frees one by one',
    async run({ store }) {
      const expiresAtMs = Date.now() + 3_600_000;
      const budget = await store.admit({
        id: 'q',
        buckets: [{ kind: 'quota', key: 'budget:lease', limit: 1, amount: 0.05, expiresAtMs, extra: 1 }],
      });
      // 0.95 left: a quarter of the 0.45 above half is 0.1125, two whole amounts of 0.05.
      near(budget.buckets[0]!.granted, 0.1, 'granted');
      near(budget.buckets[0]!.remaining, 0.85, 'remaining');
      near(await store.get(key<number>('budget:lease')), 0.15, 'spent');

      const slots = { kind: 'concurrency', key: 'slots:lease', limit: 20, leaseMs: 60_000 } as const;
      const held = await store.admit({ id: 'h', buckets: [{ ...slots, extra: 3 }] });
      // 19 left: a quarter of the 9 above half is 2.25, two slots.
      assert.equal(held.buckets[0]!.granted, 2);
      assert.equal(held.buckets[0]!.remaining, 17);
      await store.settle({ id: leaseSlotId('h', 1), at: held.now }, [
        { kind: 'concurrency', key: 'slots:lease' },
      ]);
      const next = await store.admit({ id: 'n', buckets: [slots] });
      assert.equal(next.buckets[0]!.remaining, 17, 'h, h+2 and n hold slots');
      await store.settle({ id: leaseSlotId('h', 2), at: held.now }, [
        { kind: 'concurrency', key: 'slots:lease' },
      ]);
      await store.settle({ id: 'h', at: held.now }, [{ kind: 'concurrency', key: 'slots:lease' }]);
      assert.equal((await store.admit({ id: 'm', buckets: [slots] })).buckets[0]!.remaining, 18);
    },
  },
];
