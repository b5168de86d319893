import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { incrementScript } from '../../src/state/redis-scripts.ts';
import { RedisStore } from '../../src/state/redis-store.ts';
import { key, type Store, windowSlots } from '../../src/state/store.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';
import { describeStoreConformance, eventually } from './store-conformance.ts';

const server: RedisServer = await startRedisServer();
after(() => server.stop());

let fleets = 0;
/** A store on its own prefix, so every case starts empty on the one server. */
async function connect(prefix = `test-${++fleets}:`): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, prefix });
  assert.equal(await store.waitUntilReady(), true, 'connected');
  return store;
}

// Real Redis, real time: each unit is 60 ms of waiting; peers are separate connections.
describeStoreConformance('RedisStore conformance', async () => {
  const store = await connect();
  const peers: Store[] = [];
  return {
    store,
    unit: 60,
    async peer() {
      const peer = await connect(store.prefix);
      peers.push(peer);
      return peer;
    },
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    async close() {
      await Promise.all([store, ...peers].map((each) => each.close()));
    },
  };
});

describe('RedisStore: a fleet on one Redis', () => {
  it('two instances see each other’s writes, limits and messages', async () => {
    const [gatewayA, gatewayB] = [await connect('fleet:'), await connect('fleet:')];
    try {
      await gatewayA.set(key<{ phase: string }>('breaker:m'), { phase: 'open' });
      assert.deepEqual(await gatewayB.get(key('breaker:m')), { phase: 'open' });
      await gatewayB.increment(key<number>('spend:model:m'), 0.25);
      await gatewayA.increment(key<number>('spend:model:m'), 0.5);
      assert.equal(await gatewayB.get(key<number>('spend:model:m')), 0.75);
      const rpm = {
        kind: 'window' as const,
        key: 'window:model:m:requests',
        limit: 2,
        windowMs: 60_000,
        amount: 1,
      };
      assert.equal((await gatewayA.admit({ id: 'a1', buckets: [rpm] })).admitted, true);
      assert.equal((await gatewayA.admit({ id: 'a2', buckets: [rpm] })).admitted, true);
      assert.equal(
        (await gatewayB.admit({ id: 'b1', buckets: [rpm] })).admitted,
        false,
        'the cap is the fleet’s',
      );
      const heardByB: string[] = [];
      gatewayB.subscribe('breaker', (message) => heardByB.push(message));
      await gatewayA.publish('breaker', 'm');
      await eventually(() => assert.deepEqual(heardByB, ['m']));
    } finally {
      await Promise.all([gatewayA.close(), gatewayB.close()]);
    }
  });

  it('the prefix keeps two fleets apart, keys and channels', async () => {
    const [blue, green] = [await connect('blue:'), await connect('green:')];
    const raw = new Redis(server.url);
    try {
      await blue.set(key<string>('key-secret'), 'blue secret');
      await green.set(key<string>('key-secret'), 'green secret');
      assert.equal(await blue.get(key<string>('key-secret')), 'blue secret');
      const rpm = {
        kind: 'window' as const,
        key: 'window:model:m:requests',
        limit: 1,
        windowMs: 60_000,
        amount: 1,
      };
      assert.equal((await blue.admit({ id: 'x', buckets: [rpm] })).admitted, true);
      assert.equal((await green.admit({ id: 'x', buckets: [rpm] })).admitted, true, 'a separate cap');
      const heardByGreen: string[] = [];
      const heardByBlue: string[] = [];
      green.subscribe('keys', (message) => heardByGreen.push(message));
      blue.subscribe('keys', (message) => heardByBlue.push(message));
      await blue.publish('keys', 'revoked');
      await eventually(() => assert.deepEqual(heardByBlue, ['revoked']));
      await green.publish('keys', 'created');
      await eventually(() => assert.deepEqual(heardByGreen, ['created']));
      assert.deepEqual(heardByBlue, ['revoked'], 'blue did not hear green');
      const blueKeys = (await raw.keys('blue:*')).sort();
      assert.deepEqual(blueKeys, ['blue:key-secret', 'blue:window:model:m:requests:slots']);
    } finally {
      raw.disconnect();
      await Promise.all([blue.close(), green.close()]);
    }
  });

  it('a window outlives its newest slot: its TTL stays between a window and a slot and two windows', async () => {
    const store = await connect('ttl:');
    const raw = new Redis(server.url);
    const windowMs = 60_000;
    const slotMs = windowMs / windowSlots;
    const ttl = () => raw.pttl('ttl:w:slots');
    try {
      const bucket = { kind: 'window' as const, key: 'w', limit: 1_000, windowMs, amount: 1 };
      assert.equal((await store.admit({ id: 'first', buckets: [bucket] })).admitted, true);
      const first = await ttl();
      assert.ok(first > windowMs + slotMs && first <= 2 * windowMs, `${first} ms`);
      // Less than a window left (as if a minute and more had passed): the next admission renews.
      await raw.pexpire('ttl:w:slots', windowMs - 5_000);
      assert.equal((await store.admit({ id: 'second', buckets: [bucket] })).admitted, true);
      const renewed = await ttl();
      assert.ok(renewed > windowMs + slotMs && renewed <= 2 * windowMs, `renewed: ${renewed} ms`);
      // More than a window and two slots left: no renewal needed, and it still outlives the newest slot.
      await raw.pexpire('ttl:w:slots', windowMs + 5_000);
      assert.equal((await store.admit({ id: 'third', buckets: [bucket] })).admitted, true);
      const kept = await ttl();
      assert.ok(kept > windowMs + slotMs && kept <= windowMs + 5_000, `kept: ${kept} ms`);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('a busy window keeps one field per slot that counts: at most 64 fields, whatever the rate', async () => {
    const store = await connect('busy:');
    const raw = new Redis(server.url);
    const windowMs = 600; // 10 ms slots: 1.5 s of admissions passes through 150 of them
    try {
      const bucket = { kind: 'window' as const, key: 'w', limit: 1e9, windowMs, amount: 1 };
      let admitted = 0;
      let fields = 0;
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        const batch = await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            store.admit({ id: `a${admitted + index}`, buckets: [bucket] }),
          ),
        );
        admitted += batch.filter((result) => result.admitted).length;
        fields = Math.max(fields, await raw.hlen('busy:w:slots'));
      }
      assert.ok(admitted > 1_000, `${admitted} admissions`);
      assert.ok(
        fields > 10 && fields <= windowSlots + 1 + 3,
        `${fields} fields (61 slots, total, oldest, newest)`,
      );
      const total = await store.windowTotal('w', windowMs);
      assert.ok(total > 0 && total < admitted, `${total} of ${admitted} still count`);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('scripts survive a flushed script cache (EVALSHA falls back to EVAL)', async () => {
    const sha = createHash('sha1').update(incrementScript).digest('hex');
    const store = await connect();
    const raw = new Redis(server.url);
    try {
      await raw.script('FLUSH');
      assert.equal(Number(((await raw.script('EXISTS', sha)) as number[])[0]), 0, 'flushed');
      assert.equal(await store.increment(key<number>('n'), 2), 2);
      assert.equal(
        (
          await store.admit({
            id: 'a',
            buckets: [{ kind: 'concurrency', key: 's', limit: 1, leaseMs: 1000 }],
          })
        ).admitted,
        true,
      );
      assert.equal(Number(((await raw.script('EXISTS', sha)) as number[])[0]), 1, 'EVAL cached it again');
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});

// Last: these stop and freeze the server.
describe('RedisStore: Redis slow, down and back', () => {
  it('a frozen Redis fails a call within the command timeout, not later', async () => {
    const store = await connect();
    try {
      server.pause();
      const started = performance.now();
      await assert.rejects(store.get(key('breaker:m')), /timed out/);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 200 && elapsed < 600, `failed after ${elapsed.toFixed(0)} ms (timeout 250)`);
    } finally {
      server.resume();
    }
    assert.equal(await store.get(key('breaker:m')), undefined, 'answers again once Redis does');
    await store.close();
  });

  it('while Redis is down calls fail at once; after a restart it reconnects and re-subscribes', async () => {
    const listener = await connect('restart:');
    const heard: string[] = [];
    listener.subscribe('breaker', (message) => heard.push(message));
    await listener.publish('breaker', 'before');
    await eventually(() => assert.deepEqual(heard, ['before']));
    await server.stop({ crash: true });
    const started = performance.now();
    await assert.rejects(listener.set(key('breaker:m'), 'x'));
    assert.ok(performance.now() - started < 300, 'no waiting in a queue while disconnected');
    await server.start();
    assert.equal(await listener.waitUntilReady(5000), true, 'reconnected');
    const publisher = await connect('restart:');
    try {
      await eventually(async () => {
        await publisher.publish('breaker', 'after');
        assert.ok(heard.includes('after'), 'the subscription came back');
      }, 5000);
      await listener.set(key('breaker:m'), 'y');
      assert.equal(await publisher.get(key('breaker:m')), 'y');
    } finally {
      await Promise.all([listener.close(), publisher.close()]);
    }
  });
});
