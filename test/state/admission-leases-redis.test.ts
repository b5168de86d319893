/**
 * Admission leases over a real redis-server: three "instances" (each its own RedisStore
 * connection and leases) race for one rpm and one budget bucket.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { AdmissionLeases } from '../../src/state/admission-leases.ts';
import { RedisStore } from '../../src/state/redis-store.ts';
import { type Admission, type AdmissionResult, type Bucket, key } from '../../src/state/store.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';

const server: RedisServer = await startRedisServer();
after(() => server.stop());

it('three instances on one Redis: no overshoot, the limit drained whole, most admissions without a script', async () => {
  const limit = 600;
  const expiresAtMs = Date.now() + 3_600_000;
  const buckets: Bucket[] = [
    { kind: 'window', key: 'rpm:fleet', limit, windowMs: 60_000, amount: 1 },
    { kind: 'quota', key: 'budget:fleet', limit: 1_000, amount: 0.5, expiresAtMs },
  ];
  const stores: RedisStore[] = [];
  let scripts = 0;
  const instances: AdmissionLeases[] = [];
  for (let i = 0; i < 3; i++) {
    const store = new RedisStore({ url: server.url, prefix: 'leases:' });
    assert.equal(await store.waitUntilReady(), true);
    stores.push(store);
    const counted = {
      admit(admission: Admission): Promise<AdmissionResult> {
        scripts++;
        return store.admit(admission);
      },
      settle: store.settle.bind(store),
    };
    instances.push(new AdmissionLeases(counted));
  }
  try {
    // Four callers per instance, all racing, each until it is refused.
    let admitted = 0;
    let attempts = 0;
    let scriptsAtHalf = 0;
    const caller = async (instance: AdmissionLeases, name: string) => {
      for (;;) {
        const result = await instance.admit({ id: `${name}:${attempts++}`, buckets });
        if (!result.admitted) return;
        if (++admitted === limit / 2) scriptsAtHalf = scripts;
      }
    };
    await Promise.all(
      instances.flatMap((instance, index) =>
        Array.from({ length: 4 }, (_, n) => caller(instance, `i${index}.${n}`)),
      ),
    );
    assert.ok(admitted <= limit, `${admitted} admitted past the limit of ${limit}`);
    assert.ok(admitted >= limit - 3, `${admitted} of ${limit}: held units were lost`);
    // Leases are granted while more than half the limit is free; below that, admission is exact.
    assert.ok(
      scriptsAtHalf < limit / 8,
      `${scriptsAtHalf} admission scripts for the first ${limit / 2} admissions`,
    );
    await Promise.all(instances.map((instance) => instance.close()));
    // Everything unused went back: Redis counts exactly what was admitted.
    assert.equal(await stores[0]!.windowTotal('rpm:fleet', 60_000), admitted);
    const spent = (await stores[0]!.get(key<number>('budget:fleet'))) ?? Number.NaN;
    assert.ok(Math.abs(spent - admitted * 0.5) < 1e-6, `spent ${spent} for ${admitted}`);
    console.log(
      `admission leases, 3 instances on Redis: ${admitted} of ${limit} admitted; ${scriptsAtHalf} admission scripts for the first half, ${scripts} in all (refusals included)`,
    );
  } finally {
    await Promise.all(instances.map((instance) => instance.close()));
    await Promise.all(stores.map((store) => store.close()));
  }
});
