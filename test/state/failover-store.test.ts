import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FailoverStore, type StateChange } from '../../src/state/failover-store.ts';
import { RedisStore } from '../../src/state/redis-store.ts';
import { type Bucket, key, MemoryStore } from '../../src/state/store.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';
import { eventually } from './store-conformance.ts';

const server: RedisServer = await startRedisServer();
after(() => server.stop());

let fleets = 0;

function recordingLogger() {
  const lines: Array<{ level: 'warn' | 'info'; message: string | undefined }> = [];
  return {
    lines,
    warn: (_: object, message?: string) => lines.push({ level: 'warn', message }),
    info: (_: object, message?: string) => lines.push({ level: 'info', message }),
  };
}

/** A gateway's store: FailoverStore over Redis, checking every 100 ms to keep the test short. */
async function gatewayStore(prefix: string) {
  const logger = recordingLogger();
  const changes: StateChange[] = [];
  const redis = new RedisStore({ url: server.url, prefix, reconnect: { baseMs: 20, maxMs: 200 } });
  const store = new FailoverStore(redis, new MemoryStore(), { logger, checkIntervalMs: 100 });
  store.onStateChange((change) => changes.push(change));
  await store.start();
  return { store, logger, changes };
}

/** Another instance reading Redis directly, to see what reached the shared state. */
async function observer(prefix: string): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, prefix });
  assert.equal(await store.waitUntilReady(5000), true);
  return store;
}

async function timed<T>(call: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call;
  return { value, ms: performance.now() - started };
}

describe('FailoverStore', () => {
  it('healthy: calls go to Redis and are shared', async () => {
    const prefix = `fleet-${++fleets}:`;
    const { store, logger } = await gatewayStore(prefix);
    const other = await observer(prefix);
    try {
      assert.equal(store.kind, 'redis');
      await store.set(key<string>('breaker:m'), 'open');
      assert.equal(await other.get(key<string>('breaker:m')), 'open');
      await other.set(key<string>('cooldown:m'), 'later');
      assert.equal(await store.get(key<string>('cooldown:m')), 'later');
      assert.equal(store.degraded, false);
      assert.equal(store.degradedSinceMs, undefined);
      assert.deepEqual(logger.lines, []);
    } finally {
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('Redis crashes under load: every call answers in bounded time, one warning, back after a restart', async () => {
    const prefix = `fleet-${++fleets}:`;
    const { store, logger, changes } = await gatewayStore(prefix);
    const heard: string[] = [];
    store.subscribe('breaker', (message) => heard.push(message));
    await store.set(key('key:k1'), { name: 'team-a' });
    await store.set(key<string>('key-secret'), 'secret');
    assert.equal(await store.get(key<string>('key-secret')), 'secret');
    await store.set(key<string>('cooldown:m'), 'until-soon', { ttlMs: 300 });
    const rpm: Bucket = {
      kind: 'window',
      key: 'window:model:m:requests',
      limit: 1000,
      windowMs: 60_000,
      amount: 1,
    };

    // Load: a stream of mixed calls, each timed; Redis dies in the middle of it.
    let running = true;
    let slowest = 0;
    let calls = 0;
    const load = (async () => {
      for (let index = 0; running; index++) {
        const { ms } = await timed(
          Promise.all([
            store.admit({ id: `r${index}`, buckets: [rpm] }),
            store.get(key('key:k1')),
            store.increment(key<number>('spend:model:m'), 0.01),
          ]),
        );
        slowest = Math.max(slowest, ms);
        calls += 3;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.stop({ crash: true });
    await eventually(() => assert.equal(store.degraded, true));
    const degradedAt = calls;
    await eventually(() => assert.ok(calls > degradedAt + 30, 'serving on while degraded'));

    assert.ok(store.degradedSinceMs! <= Date.now());
    assert.deepEqual(
      logger.lines.map((line) => line.level),
      ['warn'],
      'one warning line, not one per call',
    );
    assert.deepEqual(
      changes.map((change) => change.degraded),
      [true],
    );
    assert.deepEqual(await store.get(key('key:k1')), { name: 'team-a' }, 'last known values still read');
    assert.equal(await store.get(key<string>('key-secret')), 'secret');
    await eventually(async () => assert.equal(await store.get(key('cooldown:m')), undefined), 1000);
    await store.publish('breaker', 'local news');
    assert.deepEqual(heard, ['local news'], 'publish reaches this instance while degraded');
    const { value: admitted, ms } = await timed(store.admit({ id: 'x', buckets: [rpm] }));
    assert.equal(admitted.admitted, true);
    assert.ok(ms < 50, `a degraded admission does not wait for Redis (${ms.toFixed(1)} ms)`);

    await server.start();
    await eventually(() => assert.equal(store.degraded, false), 10_000);
    running = false;
    await load;
    assert.ok(slowest < 600, `no call waited longer than ${slowest.toFixed(0)} ms`);
    assert.deepEqual(
      changes.map((change) => change.degraded),
      [true, false],
    );
    assert.deepEqual(
      logger.lines.map((line) => line.level),
      ['warn', 'info'],
    );
    assert.equal(store.degradedSinceMs, undefined);

    const other = await observer(prefix);
    try {
      await store.set(key<string>('breaker:m'), 'closed');
      assert.equal(await other.get(key<string>('breaker:m')), 'closed', 'writes reach Redis again');
      await eventually(async () => {
        await other.publish('breaker', 'fleet news');
        assert.ok(heard.includes('fleet news'), 'subscriptions came back');
      }, 5000);
    } finally {
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('Redis frozen: calls time out once, then spend recorded locally is added to Redis on recovery', async () => {
    const prefix = `fleet-${++fleets}:`;
    const { store, logger } = await gatewayStore(prefix);
    const other = await observer(prefix);
    const expiresAtMs = (await store.time()) + 3_600_000;
    const budget = (amount: number): Bucket => ({
      kind: 'quota',
      key: 'budget:key:k:day',
      limit: 10,
      amount,
      expiresAtMs,
    });
    try {
      await store.increment(key<number>('spend:model:m'), 1);
      assert.equal((await store.admit({ id: 'a', buckets: [budget(2)] })).admitted, true);
      server.pause();
      const first = await timed(store.increment(key<number>('spend:model:m'), 0.5));
      assert.ok(
        first.ms >= 200 && first.ms < 600,
        `the call in flight waited one timeout (${first.ms.toFixed(0)} ms)`,
      );
      assert.equal(first.value, 1.5, 'answered locally from the last known spend');
      assert.equal(store.degraded, true);
      const second = await timed(store.increment(key<number>('spend:model:m'), 0.25));
      assert.ok(second.ms < 20, 'later calls do not wait');
      assert.equal(second.value, 1.75);
      const local = await store.admit({ id: 'b', buckets: [budget(7)] });
      assert.equal(local.admitted, true, 'the local budget carries on from the spend last seen');
      assert.equal((await store.admit({ id: 'c', buckets: [budget(2)] })).admitted, false, '2 + 7 + 2 > 10');
      await store.settle({ id: 'b', at: local.now }, [
        { kind: 'quota', key: 'budget:key:k:day', delta: -4, expiresAtMs },
      ]);
      server.resume();
      await eventually(() => assert.equal(store.degraded, false), 5000);
      assert.equal(
        await other.get(key<number>('spend:model:m')),
        1.75,
        'spend made while degraded reached Redis',
      );
      assert.equal(await other.get(key<number>('budget:key:k:day')), 5, 'budget charged 2 + (7 - 4)');
      assert.deepEqual(
        logger.lines.map((line) => line.level),
        ['warn', 'info'],
      );
    } finally {
      server.resume();
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('Redis frozen: no units are taken ahead locally, and a slot whose release failed is released on recovery', async () => {
    const prefix = `fleet-${++fleets}:`;
    const { store } = await gatewayStore(prefix);
    const other = await observer(prefix);
    const slots: Bucket = { kind: 'concurrency', key: 'slots:key:k', limit: 3, leaseMs: 600_000 };
    const rpm: Bucket = {
      kind: 'window',
      key: 'window:key:k:requests',
      limit: 1000,
      windowMs: 60_000,
      amount: 1,
    };
    try {
      const held = await store.admit({ id: 'held', buckets: [slots] });
      assert.equal(held.admitted, true);
      assert.equal(held.local, undefined, 'taken in Redis');
      server.pause();
      const local = await store.admit({ id: 'while-down', buckets: [{ ...rpm, extra: 20 }] });
      assert.equal(local.admitted, true);
      assert.equal(local.local, true, 'taken in local state');
      assert.equal(local.buckets[0]!.granted, undefined, 'the local state grants nothing ahead');
      // Redis holds 'held' and cannot hear its release now.
      await store.settle({ id: 'held', at: held.now }, [{ kind: 'concurrency', key: slots.key }]);
      server.resume();
      await eventually(() => assert.equal(store.degraded, false), 5000);
      const after = await Promise.all(['o1', 'o2', 'o3'].map((id) => other.admit({ id, buckets: [slots] })));
      assert.deepEqual(
        after.map((result) => result.admitted),
        [true, true, true],
        'the slot held before the outage was released in Redis when it came back',
      );
    } finally {
      server.resume();
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('starts degraded when Redis is not there, and switches over when it comes', async () => {
    await server.stop();
    const prefix = `fleet-${++fleets}:`;
    const logger = recordingLogger();
    const redis = new RedisStore({ url: server.url, prefix, reconnect: { baseMs: 20, maxMs: 200 } });
    const store = new FailoverStore(redis, new MemoryStore(), { logger, checkIntervalMs: 100 });
    try {
      await store.start(300);
      assert.equal(store.degraded, true);
      assert.equal(
        await store.acquireLease(key<string>('lease:probe:m'), 'me', 1000),
        true,
        'answers locally',
      );
      await server.start();
      await eventually(() => assert.equal(store.degraded, false), 10_000);
      assert.equal(await store.acquireLease(key<string>('lease:probe:m'), 'me', 1000), true);
      assert.deepEqual(
        logger.lines.map((line) => line.level),
        ['warn', 'info'],
      );
    } finally {
      await store.close();
    }
  });
});
