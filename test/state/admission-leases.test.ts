import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { AdmissionLeases } from '../../src/state/admission-leases.ts';
import {
  type Adjustment,
  type Admission,
  type AdmissionResult,
  type Bucket,
  key,
  MemoryStore,
  windowSlot,
} from '../../src/state/store.ts';

/** A MemoryStore on a virtual clock that counts the admissions it is asked for. */
function sharedStore(start = 1_000_000_000_000 + 100) {
  const clock = { ms: start };
  const store = new MemoryStore(() => clock.ms);
  const calls = { admit: 0 };
  const counted = {
    admit(admission: Admission): Promise<AdmissionResult> {
      calls.admit++;
      return store.admit(admission);
    },
    settle: store.settle.bind(store),
  };
  return { clock, store, calls, counted };
}

const rpm = (limit: number): Bucket => ({ kind: 'window', key: 'rpm', limit, windowMs: 60_000, amount: 1 });
const open: AdmissionLeases[] = [];

/** Leases over a store that answers after 5 ms, counting how many admissions it holds at once. */
function slowLeasesOver(shared: ReturnType<typeof sharedStore>) {
  const flight = { now: 0, most: 0 };
  const slow = {
    async admit(admission: Admission): Promise<AdmissionResult> {
      shared.calls.admit++;
      flight.most = Math.max(flight.most, ++flight.now);
      await new Promise((resolve) => setTimeout(resolve, 5));
      flight.now--;
      return shared.store.admit(admission);
    },
    settle: shared.store.settle.bind(shared.store),
  };
  const leases = new AdmissionLeases(slow, { now: () => shared.clock.ms });
  open.push(leases);
  return { leases, flight };
}

function leasesOver(shared: ReturnType<typeof sharedStore>, bypass?: () => boolean): AdmissionLeases {
  const leases = new AdmissionLeases(shared.counted, { now: () => shared.clock.ms, bypass });
  open.push(leases);
  return leases;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((leases) => leases.close()));
});

describe('admission leases', () => {
  it('serve most admissions from units taken ahead, and give the unused units back when closed', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    let admitted = 0;
    for (let i = 0; i < 50; i++) {
      const result = await leases.admit({ id: `r${i}`, buckets: [rpm(10_000)] });
      assert.equal(result.admitted, true);
      admitted++;
    }
    assert.ok(shared.calls.admit <= 8, `${shared.calls.admit} store admissions for 50 requests`);
    assert.ok(
      (await shared.store.windowTotal('rpm', 60_000)) >= admitted,
      'everything served was taken first',
    );
    await leases.close();
    assert.equal(await shared.store.windowTotal('rpm', 60_000), admitted, 'unused units went back');
  });

  it('two instances never admit past a limit between them, and drain it whole', async () => {
    const shared = sharedStore();
    const a = leasesOver(shared);
    const b = leasesOver(shared);
    let admitted = 0;
    let refusedInARow = 0;
    for (let i = 0; refusedInARow < 2 && i < 1000; i++) {
      const result = await (i % 2 === 0 ? a : b).admit({ id: `r${i}`, buckets: [rpm(100)] });
      if (result.admitted) {
        admitted++;
        refusedInARow = 0;
        assert.ok(admitted <= 100, 'never past the limit');
      } else {
        refusedInARow++;
      }
    }
    assert.equal(admitted, 100, 'the units one instance held were used by it, not lost');
    assert.ok(shared.calls.admit < 100, `${shared.calls.admit} store admissions`);
  });

  it('near the limit every admission goes to the store (exact)', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    for (let i = 0; i < 8; i++) await leases.admit({ id: `r${i}`, buckets: [rpm(8)] });
    assert.equal(shared.calls.admit, 8, 'a limit of 8 never leaves half free after a grant');
    assert.equal((await leases.admit({ id: 'r8', buckets: [rpm(8)] })).admitted, false);
  });

  it('a window lease ends before its slot does; its unused units go back into that slot', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    await leases.admit({ id: 'first', buckets: [rpm(10_000)] });
    await leases.admit({ id: 'second', buckets: [rpm(10_000)] });
    assert.equal(shared.calls.admit, 1);
    const slot = windowSlot(shared.clock.ms, 60_000);
    // Into the last 20 ms of the slot: the lease is no longer used.
    shared.clock.ms = (slot + 1) * 1000 - 10;
    const third = await leases.admit({ id: 'third', buckets: [rpm(10_000)] });
    assert.equal(shared.calls.admit, 2, 'the store admitted it');
    assert.ok(third.buckets[0]!.resetMs > 60_000, 'counted in its own slot');
    shared.clock.ms += 20;
    await leases.close();
    assert.equal(await shared.store.windowTotal('rpm', 60_000), 3);
  });

  it('a changed limit gives the lease back before the store admits under the new one', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    await leases.admit({ id: 'a', buckets: [rpm(100)] });
    assert.ok((await shared.store.windowTotal('rpm', 60_000)) > 1, 'a lease was taken');
    const lowered = await leases.admit({ id: 'b', buckets: [rpm(3)] });
    assert.equal(lowered.admitted, true);
    assert.equal(lowered.buckets[0]!.remaining, 1, 'two admitted so far, nothing held');
    assert.equal((await leases.admit({ id: 'c', buckets: [rpm(3)] })).admitted, true);
    assert.equal((await leases.admit({ id: 'd', buckets: [rpm(3)] })).admitted, false);
  });

  it('concurrency slots are lent and given back; a budget and a tpm window settle into the lease', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    const expiresAtMs = shared.clock.ms + 3_600_000;
    const buckets: Bucket[] = [
      { kind: 'concurrency', key: 'slots', limit: 100, leaseMs: 60_000 },
      { kind: 'window', key: 'tpm', limit: 1_000_000, windowMs: 60_000, amount: 100 },
      { kind: 'quota', key: 'budget', limit: 10, amount: 0.01, expiresAtMs },
    ];
    const settle = (id: string, at: number) =>
      leases.settle({ id, at }, [
        { kind: 'concurrency', key: 'slots' },
        { kind: 'window', key: 'tpm', windowMs: 60_000, delta: -60 },
        { kind: 'quota', key: 'budget', delta: -0.005, expiresAtMs },
      ]);
    const running: Array<{ id: string; at: number }> = [];
    for (let i = 0; i < 3; i++) {
      const result = await leases.admit({ id: `r${i}`, buckets });
      assert.equal(result.admitted, true);
      running.push({ id: `r${i}`, at: result.now });
    }
    assert.equal(shared.calls.admit, 1, 'the second and third were served from the lease');
    for (const admitted of running) await settle(admitted.id, admitted.at);
    for (let i = 3; i < 6; i++) {
      const result = await leases.admit({ id: `r${i}`, buckets });
      await settle(`r${i}`, result.now);
    }
    assert.equal(shared.calls.admit, 1, 'the slots came back to the lease');
    await leases.close();
    // Six requests of 40 tokens and $0.005 each; every slot free again.
    assert.equal(await shared.store.windowTotal('tpm', 60_000), 240);
    const spent = (await shared.store.get(key<number>('budget'))) ?? Number.NaN;
    assert.ok(Math.abs(spent - 0.03) < 1e-12, `spent ${spent}`);
    const all = await shared.store.admit({
      id: 'all',
      buckets: [{ kind: 'concurrency', key: 'slots', limit: 1, leaseMs: 60_000 }],
    });
    assert.equal(all.admitted, true, 'no slot is still held');
  });

  it('a slot lent when its lease ended is released in the store by its settle', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    const slots: Bucket = { kind: 'concurrency', key: 'slots', limit: 100, leaseMs: 60_000 };
    const first = await leases.admit({ id: 'a', buckets: [slots] });
    const second = await leases.admit({ id: 'b', buckets: [slots] });
    assert.equal(shared.calls.admit, 1);
    shared.clock.ms += 1_500; // past the lease
    await leases.admit({ id: 'c', buckets: [slots] }); // ends the old lease, takes a new one
    await leases.settle({ id: 'a', at: first.now }, [{ kind: 'concurrency', key: 'slots' }]);
    await leases.settle({ id: 'b', at: second.now }, [{ kind: 'concurrency', key: 'slots' }]);
    await leases.settle({ id: 'c', at: second.now }, [{ kind: 'concurrency', key: 'slots' }]);
    await leases.close();
    const probe = await shared.store.admit({
      id: 'probe',
      buckets: [{ ...slots, limit: 1 }],
    });
    assert.equal(probe.admitted, true, 'every slot was given back');
  });

  it('steps aside while bypassed (a degraded store)', async () => {
    const shared = sharedStore();
    let degraded = true;
    const leases = leasesOver(shared, () => degraded);
    for (let i = 0; i < 5; i++) await leases.admit({ id: `r${i}`, buckets: [rpm(10_000)] });
    assert.equal(shared.calls.admit, 5);
    assert.equal(await shared.store.windowTotal('rpm', 60_000), 5, 'nothing taken ahead');
    degraded = false;
    for (let i = 5; i < 10; i++) await leases.admit({ id: `r${i}`, buckets: [rpm(10_000)] });
    assert.equal(shared.calls.admit, 6);
  });

  it('a settle of an admission taken while degraded is not folded; a rise past what the lease holds reaches the store', async () => {
    const shared = sharedStore();
    const settled: Adjustment[][] = [];
    let degraded = true;
    const store = {
      async admit(admission: Admission): Promise<AdmissionResult> {
        shared.calls.admit++;
        const result = await shared.store.admit(admission);
        return degraded ? { ...result, local: true } : result;
      },
      settle(admitted: { id: string; at: number }, adjustments: readonly Adjustment[]) {
        settled.push([...adjustments]);
        return shared.store.settle(admitted, adjustments);
      },
    };
    const leases = new AdmissionLeases(store, { now: () => shared.clock.ms, bypass: () => degraded });
    open.push(leases);
    const tpm: Bucket = { kind: 'window', key: 'tpm', limit: 1_000_000, windowMs: 60_000, amount: 100 };
    const correction = (delta: number): Adjustment[] => [
      { kind: 'window', key: 'tpm', windowMs: 60_000, delta },
    ];
    const down = await leases.admit({ id: 'down', buckets: [tpm] });
    degraded = false;
    const up = await leases.admit({ id: 'up', buckets: [tpm] });
    assert.equal(
      up.buckets[0]!.remaining,
      1_000_000 - 200,
      'a lease of 400 tokens was taken (and counts as free here)',
    );
    const served = await leases.admit({ id: 'served', buckets: [tpm] });
    assert.equal(shared.calls.admit, 2, 'the third came from the lease');
    await leases.settle({ id: 'down', at: down.now }, correction(-60));
    assert.deepEqual(settled, [correction(-60)], 'taken while degraded: its correction goes to the store');
    await leases.settle({ id: 'up', at: up.now }, correction(-60));
    assert.equal(settled.length, 1, 'a refund of a shared admission folds into the lease (300 + 60 left)');
    await leases.settle({ id: 'served', at: served.now }, correction(460));
    assert.deepEqual(
      settled[1],
      correction(100),
      'the lease covers 360 of a rise of 460; the store hears the rest now',
    );
    await leases.close();
    assert.equal(
      await shared.store.windowTotal('tpm', 60_000),
      40 + 40 + 560,
      'every request counted at its real usage',
    );
  });

  it('close waits for an admission still at the store, and gives back what it was granted', async () => {
    const shared = sharedStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const store = {
      async admit(admission: Admission): Promise<AdmissionResult> {
        await gate;
        return shared.store.admit(admission);
      },
      settle: shared.store.settle.bind(shared.store),
    };
    const leases = new AdmissionLeases(store, { now: () => shared.clock.ms });
    const admitting = leases.admit({ id: 'a', buckets: [rpm(10_000)] });
    let closed = false;
    const closing = leases.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'close waits for the admission');
    release();
    assert.equal((await admitting).admitted, true);
    await closing;
    assert.equal(
      await shared.store.windowTotal('rpm', 60_000),
      1,
      'the grant went back before close returned',
    );
  });

  it('forgets a lent slot whose request never settled once the store has forgotten it too', async () => {
    const shared = sharedStore();
    const leases = leasesOver(shared);
    const slots: Bucket = { kind: 'concurrency', key: 'slots', limit: 100, leaseMs: 2_000 };
    await leases.admit({ id: 'a', buckets: [slots] });
    await leases.admit({ id: 'b', buckets: [slots] });
    assert.equal(leases.stats.lent, 1, 'b holds a lent slot');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(leases.stats.lent, 1, 'kept while its slot may still be held in the store');
    shared.clock.ms += 2_500;
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(leases.stats.lent, 0);
  });

  it('admissions that find their lease empty wait for the one refill under way instead of each going to the store', async () => {
    const shared = sharedStore();
    const { leases } = slowLeasesOver(shared);
    const slots: Bucket = { kind: 'concurrency', key: 'slots', limit: 10_000, leaseMs: 60_000 };
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => leases.admit({ id: `r${i}`, buckets: [rpm(100_000), slots] })),
    );
    assert.ok(burst.every((result) => result.admitted));
    assert.ok(shared.calls.admit <= 3, `${shared.calls.admit} store admissions for a burst of 40`);
    assert.ok(leases.stats.local >= 37);
    await leases.close();
    assert.equal(await shared.store.windowTotal('rpm', 60_000), 40, 'nothing held after close');
  });

  it('near a limit nobody waits for a refill that will be granted nothing', async () => {
    const shared = sharedStore();
    const { leases, flight } = slowLeasesOver(shared);
    await leases.admit({ id: 'a', buckets: [rpm(10)] }); // granted 1 more: 9 - 1 stays above half
    await leases.admit({ id: 'b', buckets: [rpm(10)] }); // from the lease
    await leases.admit({ id: 'c', buckets: [rpm(10)] }); // granted nothing: 7 free, not above half after a grant
    assert.equal(shared.calls.admit, 2);
    flight.most = 0;
    const burst = await Promise.all(
      Array.from({ length: 5 }, (_, i) => leases.admit({ id: `r${i}`, buckets: [rpm(10)] })),
    );
    assert.equal(burst.filter((result) => result.admitted).length, 5);
    assert.equal(shared.calls.admit, 7, 'each went to the store (exact near the limit)');
    assert.equal(flight.most, 5, 'all at once: none waited for another');
  });

  it('a refusal by one bucket does not stop admissions from waiting for the refills of the others', async () => {
    const shared = sharedStore();
    const { leases, flight } = slowLeasesOver(shared);
    const model: Bucket = { kind: 'window', key: 'model', limit: 100_000, windowMs: 60_000, amount: 1 };
    const client: Bucket = { kind: 'window', key: 'client', limit: 1, windowMs: 60_000, amount: 1 };
    assert.equal((await leases.admit({ id: 'a', buckets: [client, model] })).admitted, true);
    for (let i = 0; i < 4; i++) await leases.admit({ id: `m${i}`, buckets: [model] }); // the model's lease, used up
    const refused = await leases.admit({ id: 'b', buckets: [client, model] });
    assert.equal(refused.admitted, false, 'the client is at its limit');
    flight.most = 0;
    const burst = await Promise.all(
      Array.from({ length: 5 }, (_, i) => leases.admit({ id: `r${i}`, buckets: [model] })),
    );
    assert.ok(burst.every((result) => result.admitted));
    assert.equal(flight.most, 1, 'one refill of the model bucket; the others waited for it');
  });
});
