/**
 * FailoverStore goes back to shared state only when this instance can hear the fleet again: a
 * Redis that answers commands while the subscriber connection is still reconnecting would
 * otherwise lose every breaker transition published in between (nothing re-reads them later).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { FailoverStore } from '../../src/state/failover-store.ts';
import { RedisStore } from '../../src/state/redis-store.ts';
import { key, MemoryStore } from '../../src/state/store.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';
import { eventually } from './store-conformance.ts';

const server: RedisServer = await startRedisServer();
after(() => server.stop());

const quiet = { warn: () => {}, info: () => {} };

describe('FailoverStore recovery', () => {
  it('stays degraded until the subscriber is back, so a message published after recovery is heard', async () => {
    const prefix = 'recovery:';
    // A slow reconnect: the subscriber stays away for about 3 s once its connection drops.
    const redis = new RedisStore({
      url: server.url,
      prefix,
      commandTimeoutMs: 100,
      reconnect: { baseMs: 3000, maxMs: 3000 },
      connectionName: 'recovery-test',
    });
    const store = new FailoverStore(redis, new MemoryStore(), { logger: quiet, checkIntervalMs: 100 });
    const admin = new Redis(server.url);
    try {
      await store.start(5000);
      const heard: string[] = [];
      store.subscribe('breaker', (message) => heard.push(message));
      await store.publish('breaker', 'before');
      await eventually(() => assert.deepEqual(heard, ['before']));

      // Drop only the subscriber connection, then make one command time out (Redis frozen).
      const clients = String(await admin.client('LIST'));
      const subscriberId = /id=(\d+) [^\n]*name=recovery-test:subscriber/.exec(clients)?.[1];
      assert.ok(subscriberId, 'the subscriber connection is listed');
      await admin.client('KILL', 'ID', subscriberId);
      server.pause();
      await store.get(key('anything'));
      server.resume();
      assert.equal(store.degraded, true);

      // Commands answer again at once; the subscriber needs ~3 s.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(store.degraded, true, 'not shared again while deaf to the fleet');
      await eventually(() => assert.equal(store.degraded, false, 'back once the subscriber is'), 6000);
      await admin.publish(`${prefix}breaker`, 'after');
      await eventually(() => assert.deepEqual(heard, ['before', 'after'], 'heard what the fleet published'));
    } finally {
      admin.disconnect();
      await store.close();
    }
  });
});
