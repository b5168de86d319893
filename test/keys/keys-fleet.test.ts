/**
 * Virtual keys across a fleet: two gateway instances on one real redis-server. A key made on one
 * works on the other, a change or a revocation is seen by the other within a second, and rpm,
 * concurrency and budgets hold across both.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { fastSimulated } from '../helpers/gateway.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';
import { adminKey, eventually, hello, type KeysGateway, startKeysGateway } from './helpers.ts';

const models = {
  cheap: fastSimulated({ cost_per_1k: 0.001 }),
  slow: fastSimulated({
    cost_per_1k: 0.001,
    simulate: { ttft_ms: 200, ttft_sigma: 0, tokens_per_second: 5000, output_tokens: { min: 5, max: 8 } },
  }),
};

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError> | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
}

describe('virtual keys across two instances sharing Redis', () => {
  let redis: RedisServer;
  let a: KeysGateway;
  let b: KeysGateway;
  let folder: string;
  before(async () => {
    // A loaded test machine can take longer than the default 250 ms for a command: these tests are
    // about keys on shared state, not about degrading to local state (the failover tests are).
    redis = await startRedisServer();
    folder = mkdtempSync(join(tmpdir(), 'switchyard-keys-fleet-'));
    const state = { redis: { url: redis.url, prefix: `keys-fleet-${process.pid}:`, command_timeout: 2 } };
    a = await startKeysGateway({
      models,
      state,
      observability: { request_log: { path: join(folder, 'a', 'requests.db') } },
    });
    b = await startKeysGateway({ models, state });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('both instances hash with the one secret in Redis and keep no key files of their own', () => {
    assert.equal(a.keys.secretOrigin, 'store');
    assert.equal(a.keys.authenticator.idOf(adminKey), b.keys.authenticator.idOf(adminKey));
    assert.equal(existsSync(join(folder, 'a', 'keys.db')), false);
    assert.equal(existsSync(join(folder, 'a', 'key-secret')), false);
  });

  it('a key made on one instance works on the other at once; usage is counted fleet-wide', async () => {
    const created = await a.createKey({ name: 'shared' });
    const started = Date.now();
    await b.clientFor(created.key).chat.completions.create(hello('cheap'));
    console.log(`key made on A answered on B after ${Date.now() - started} ms`);
    await a.clientFor(created.key).chat.completions.create(hello('cheap'));
    await eventually(
      async () => (await b.admin('GET', `/admin/keys/${created.id}`)).json.usage.requests === 2,
    );
    const listed = (await b.admin('GET', '/admin/keys')).json.data;
    assert.ok(listed.some((key: { id: string }) => key.id === created.id));
  });

  it('a revocation on one instance is seen by the other within a second', async () => {
    const created = await a.createKey({ name: 'doomed' });
    const onB = b.clientFor(created.key);
    await onB.chat.completions.create(hello('cheap')); // B now has the record cached
    assert.equal((await a.admin('DELETE', `/admin/keys/${created.id}`)).status, 200);
    const revokedAt = Date.now();
    const waited = await eventually(
      async () => (await failure(onB.chat.completions.create(hello('cheap'))))?.status === 401,
      1000,
    );
    console.log(`revocation on A refused on B after ${waited} ms (${Date.now() - revokedAt} ms)`);
    assert.equal(
      (await failure(a.clientFor(created.key).chat.completions.create(hello('cheap'))))?.status,
      401,
    );
  });

  it('a change made on one instance applies on the other: a lowered rpm holds across both', async () => {
    const created = await a.createKey({ name: 'rpm', rpm: 100 });
    const onA = a.clientFor(created.key);
    const onB = b.clientFor(created.key);
    await onB.chat.completions.create(hello('cheap')); // cached on B with rpm 100
    await a.admin('PATCH', `/admin/keys/${created.id}`, { rpm: 3 });
    await eventually(async () => {
      const { response } = await onB.chat.completions.create(hello('cheap')).withResponse();
      return response.headers.get('x-ratelimit-limit-requests') === '3';
    }, 1000);
    // Two requests in this window so far: one more fits, on either instance, then none on either.
    await onA.chat.completions.create(hello('cheap'));
    const refusedOnA = await failure(onA.chat.completions.create(hello('cheap')));
    const refusedOnB = await failure(onB.chat.completions.create(hello('cheap')));
    for (const refused of [refusedOnA, refusedOnB]) {
      assert.equal(refused?.status, 429);
      assert.equal(refused?.code, 'rate_limit_exceeded');
      assert.ok(Number(refused?.headers?.get('retry-after')) > 0);
    }
  });

  it('max_concurrency counts the requests in flight on both instances', async () => {
    const created = await a.createKey({ name: 'one-at-a-time', max_concurrency: 1 });
    const running = a.clientFor(created.key).chat.completions.create(hello('slow', { max_tokens: 20 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await failure(
      b.clientFor(created.key).chat.completions.create(hello('slow', { max_tokens: 20 })),
    );
    assert.equal(refused?.status, 429);
    assert.match(refused?.message ?? '', /1 requests at once/);
    await running;
    await b.clientFor(created.key).chat.completions.create(hello('slow', { max_tokens: 20 }));
  });

  it('parallel requests on both instances cannot jointly spend past a budget', async () => {
    const budgetUsd = 0.0005;
    const created = await a.createKey({ name: 'fleet-budget', budget: { usd: budgetUsd, period: 'day' } });
    const clients = [a.clientFor(created.key), b.clientFor(created.key)];
    const maxTokens = 50;
    const leastReservation = (maxTokens * 0.001) / 1000;
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, index) =>
        clients[index % 2]!.chat.completions.create(hello('slow', { max_tokens: maxTokens })),
      ),
    );
    const admitted = results.filter((result) => result.status === 'fulfilled').length;
    for (const result of results) {
      if (result.status === 'rejected')
        assert.equal((result.reason as { code?: string }).code, 'insufficient_quota');
    }
    assert.ok(admitted >= 1 && admitted <= Math.floor(budgetUsd / leastReservation), `${admitted} ran`);
    // Each instance adds its part of the spend every 200 ms: read until both parts are in, and
    // the counted spend equals what the budget bucket was charged.
    let read = (await b.admin('GET', `/admin/keys/${created.id}`)).json;
    await eventually(async () => {
      read = (await a.admin('GET', `/admin/keys/${created.id}`)).json;
      return read.usage.spend_usd > 0 && Math.abs(read.budget.spent_usd - read.usage.spend_usd) < 1e-9;
    });
    assert.ok(read.usage.spend_usd <= budgetUsd, JSON.stringify(read.usage));
    console.log(
      `fleet budget: admitted ${admitted} of 30 across two instances; spent $${read.usage.spend_usd} of $${budgetUsd}`,
    );
  });
});

describe('an instance that starts while Redis does not answer', () => {
  it('fails closed (401 for every request, 503 for making keys) until Redis answers, then accepts the fleet keys', async () => {
    const redis = await startRedisServer();
    const state = { redis: { url: redis.url, prefix: `keys-late-${process.pid}:` } };
    const first = await startKeysGateway({ models, state });
    let late: KeysGateway | undefined;
    try {
      const created = await first.createKey({ name: 'made-before' });
      redis.pause();
      late = await startKeysGateway({ models, state });
      const lateGateway = late;
      assert.equal((await fetch(`${late.url}/v1/models`)).status, 401, 'no key: refused, not open');
      assert.equal(
        (await failure(late.clientFor(created.key).chat.completions.create(hello('cheap'))))?.status,
        401,
      );
      assert.equal((await late.admin('POST', '/admin/keys', { name: 'while-down' })).status, 503);
      redis.resume();
      const waited = await eventually(
        async () =>
          (await failure(lateGateway.clientFor(created.key).chat.completions.create(hello('cheap')))) ===
          undefined,
        8000,
      );
      console.log(`the late instance accepted the fleet's key ${waited} ms after Redis answered again`);
      assert.equal((await fetch(`${late.url}/v1/models`)).status, 401);
      const made = await late.createKey({ name: 'after' });
      await first.clientFor(made.key).chat.completions.create(hello('cheap'));
    } finally {
      redis.resume();
      await Promise.all([first.close(), late?.close()]);
      await redis.stop();
    }
  });
});
