/**
 * Virtual keys end to end on one instance: the admin API makes keys, the official openai client
 * uses them, and every answer the contract names comes back (401, 403, 429 with its headers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { fastSimulated } from '../helpers/gateway.ts';
import { adminKey, eventually, hello, type KeysGateway, startKeysGateway } from './helpers.ts';

const models = {
  cheap: fastSimulated({ cost_per_1k: 0.001 }),
  dear: fastSimulated({ cost_per_1k: 0.01 }),
  slow: fastSimulated({
    simulate: { ttft_ms: 300, ttft_sigma: 0, tokens_per_second: 5000, output_tokens: { min: 5, max: 8 } },
  }),
};

async function rejection(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  assert.fail('expected the request to fail');
}

describe('virtual keys on one instance', () => {
  let gateway: KeysGateway;
  before(async () => {
    gateway = await startKeysGateway({ models, server: { api_keys: ['static-client-key-000001'] } });
  });
  after(() => gateway.close());

  it('a created key is shown once, works with the openai client, and its record shows its use', async () => {
    const created = await gateway.createKey({
      name: 'ci',
      metadata: { team: 'search', user: 'ana', tags: ['ci', 'nightly'] },
    });
    assert.match(created.key, /^sk-sy-[a-z0-9]{12}_[0-9A-Za-z]{43}$/);
    assert.equal(created.key.slice(6, 18), created.id);
    assert.deepEqual(created.metadata, { team: 'search', user: 'ana', tags: ['ci', 'nightly'] });
    const client = gateway.clientFor(created.key);
    const completion = await client.chat.completions.create(hello('cheap'));
    assert.equal(completion.model, 'cheap');
    // Streams work too.
    let text = '';
    for await (const chunk of await client.chat.completions.create({ ...hello('cheap'), stream: true }))
      text += chunk.choices[0]?.delta.content ?? '';
    assert.ok(text.length > 0);

    const read = await gateway.admin('GET', `/admin/keys/${created.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.json.usage.requests, 2);
    assert.ok(read.json.usage.spend_usd > 0);
    assert.ok(Math.abs(read.json.last_used_at - Date.now() / 1000) < 5);
    assert.equal(read.json.key, undefined);
    const listed = await gateway.admin('GET', '/admin/keys');
    const text2 = JSON.stringify(listed.json);
    assert.ok(listed.json.data.some((key: { id: string }) => key.id === created.id));
    assert.ok(!text2.includes(created.key.slice(18)), 'no secret in the list');
    assert.ok(!text2.includes('key_hash'), 'no hash in the list');

    // The request log names the key by its id and filters by it.
    const rows = await gateway.admin('GET', `/admin/requests?key=${created.id}`);
    assert.equal(rows.json.data.length, 2);
    assert.ok(rows.json.data.every((row: { client_key_id: string }) => row.client_key_id === created.id));
  });

  it('401 for an unknown, a malformed, a revoked and an expired key; static keys keep working', async () => {
    const created = await gateway.createKey({ name: 'short-lived' });
    const forged = `${created.key.slice(0, 19)}${created.key.slice(19).split('').reverse().join('')}`;
    for (const key of ['sk-sy-unknown', forged, `sk-sy-aaaaaaaaaaaa_${'A'.repeat(43)}`]) {
      const error = await rejection(gateway.clientFor(key).chat.completions.create(hello('cheap')));
      assert.equal(error.status, 401, key);
    }
    const client = gateway.clientFor(created.key);
    await client.chat.completions.create(hello('cheap'));
    // The key is now remembered as verified: a forgery with its id is still hashed and refused.
    assert.equal(
      (await rejection(gateway.clientFor(forged).chat.completions.create(hello('cheap')))).status,
      401,
    );
    await client.chat.completions.create(hello('cheap'));
    const revoked = await gateway.admin('DELETE', `/admin/keys/${created.id}`);
    assert.equal(revoked.json.status, 'revoked');
    assert.equal((await rejection(client.chat.completions.create(hello('cheap')))).status, 401);
    assert.equal((await gateway.admin('PATCH', `/admin/keys/${created.id}`, { rpm: 5 })).status, 400);

    const expiring = await gateway.createKey({
      name: 'expiring',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    const expiringClient = gateway.clientFor(expiring.key);
    await expiringClient.chat.completions.create(hello('cheap'));
    await gateway.admin('PATCH', `/admin/keys/${expiring.id}`, {
      expires_at: Math.floor(Date.now() / 1000) - 1,
    });
    assert.equal((await rejection(expiringClient.chat.completions.create(hello('cheap')))).status, 401);
    assert.equal((await gateway.admin('GET', `/admin/keys/${expiring.id}`)).json.status, 'expired');

    // Once keys exist the API needs one; the static key still works, with no limits.
    const anonymous = await fetch(`${gateway.url}/v1/models`);
    assert.equal(anonymous.status, 401);
    const staticClient = gateway.clientFor('static-client-key-000001');
    await Promise.all(Array.from({ length: 5 }, () => staticClient.chat.completions.create(hello('dear'))));
  });

  it('403 model_not_allowed for a model outside the key; auto chooses among the allowed ones', async () => {
    const { key } = await gateway.createKey({ name: 'cheap-only', models: ['cheap', 'auto'] });
    const client = gateway.clientFor(key);
    const error = await rejection(client.chat.completions.create(hello('dear')));
    assert.equal(error.status, 403);
    assert.equal(error.code, 'model_not_allowed');
    for (let i = 0; i < 5; i++)
      assert.equal((await client.chat.completions.create(hello('auto'))).model, 'cheap');
  });

  it('429 rate_limit_exceeded past rpm, with Retry-After and OpenAI x-ratelimit headers', async () => {
    const { key } = await gateway.createKey({ name: 'rpm', rpm: 2, tpm: 100_000 });
    const client = gateway.clientFor(key);
    const { response } = await client.chat.completions
      .create(hello('cheap', { max_tokens: 50 }))
      .withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '1');
    // Until this request's 1-s slot leaves the window: 60 to 61 s.
    assert.match(response.headers.get('x-ratelimit-reset-requests') ?? '', /^1m[01]s$/);
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '100000');
    const remainingTokens = Number(response.headers.get('x-ratelimit-remaining-tokens'));
    assert.ok(remainingTokens < 100_000 - 50 && remainingTokens > 99_000, String(remainingTokens));
    await client.chat.completions.create(hello('cheap', { max_tokens: 50 }));
    const error = await rejection(client.chat.completions.create(hello('cheap', { max_tokens: 50 })));
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.match(error.message, /Rate limit reached for key [a-z0-9]{12}: 2 requests per minute/);
    const retryAfter = Number(error.headers?.get('retry-after'));
    // When the first request's 1-s slot leaves: 60 to 61 s after it (59 if a second passed since).
    assert.ok(retryAfter >= 59 && retryAfter <= 61, String(retryAfter));
    assert.equal(error.headers?.get('x-ratelimit-limit-requests'), '2');
    assert.equal(error.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.match(error.headers?.get('x-ratelimit-reset-requests') ?? '', /^(59s|1m0s|1m1s)$/);
  });

  it('a request that can never fit the tpm limit is told to lower max_tokens, with no Retry-After', async () => {
    const { key } = await gateway.createKey({ name: 'tpm', tpm: 100 });
    const error = await rejection(
      gateway.clientFor(key).chat.completions.create(hello('cheap', { max_tokens: 500 })),
    );
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.match(error.message, /more than the limit of 100 tokens per minute.*lower max_tokens/);
    assert.equal(error.headers?.get('retry-after'), null);
    // A small request fits.
    await gateway.clientFor(key).chat.completions.create(hello('cheap', { max_tokens: 20 }));
  });

  it('max_concurrency refuses the requests beyond it, and a freed slot is usable at once', async () => {
    const { key } = await gateway.createKey({ name: 'two-at-once', max_concurrency: 2 });
    const client = gateway.clientFor(key);
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.chat.completions.create(hello('slow', { max_tokens: 20 }))),
    );
    const refused = results.filter((result) => result.status === 'rejected');
    assert.equal(results.length - refused.length, 2);
    for (const result of refused) {
      const error = (result as PromiseRejectedResult).reason as InstanceType<typeof OpenAI.APIError>;
      assert.equal(error.status, 429);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.match(error.message, /2 requests at once/);
      assert.equal(error.headers?.get('retry-after'), '1');
    }
    // The slots were given back when the two ended: the next two run at once, with no cool-down.
    await Promise.all([1, 2].map(() => client.chat.completions.create(hello('slow', { max_tokens: 20 }))));
  });

  it('429 insufficient_quota once the budget is spent; the record shows the spend against it', async () => {
    // cheap: $0.001 per 1k tokens. A budget of $0.0001 is ~100 tokens.
    const created = await gateway.createKey({ name: 'tiny', budget: { usd: 0.0001, period: 'day' } });
    const client = gateway.clientFor(created.key);
    let refused: InstanceType<typeof OpenAI.APIError> | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      try {
        await client.chat.completions.create(hello('cheap', { max_tokens: 10 }));
      } catch (error) {
        refused = error as InstanceType<typeof OpenAI.APIError>;
      }
    }
    assert.ok(refused, 'the budget ran out');
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'insufficient_quota');
    assert.match(refused.message, /Budget of \$0\.00010 per day spent for key/);
    const untilMidnight = Math.ceil((Date.UTC(...utcTomorrow()) - Date.now()) / 1000);
    assert.ok(Math.abs(Number(refused.headers?.get('retry-after')) - untilMidnight) <= 2);
    const read = await gateway.admin('GET', `/admin/keys/${created.id}`);
    assert.ok(read.json.budget.spent_usd <= 0.0001 + 1e-12, String(read.json.budget.spent_usd));
    assert.ok(read.json.budget.spent_usd > 0.00008, 'the budget was nearly used before the refusal');
    assert.equal(read.json.budget.resets_at, Date.UTC(...utcTomorrow()) / 1000);
    // Raising the budget lets the key go on within a second (the refusal is not cached for the day).
    await gateway.admin('PATCH', `/admin/keys/${created.id}`, { budget: { usd: 1, period: 'day' } });
    await eventually(async () => {
      try {
        await client.chat.completions.create(hello('cheap', { max_tokens: 10 }));
        return true;
      } catch {
        return false;
      }
    }, 2000);
  });

  it('400 in OpenAI shape naming the parameter; 404 for an unknown id; 401 without the admin key', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: 'x', rpm: -1 }, 'rpm'],
      [{ name: 'x', budget: { usd: 5, period: 'year' } }, 'budget.period'],
      [{ name: 'x', models: ['cheap', 'gpt-9'] }, 'models[1]'],
      [{ name: 'x', colour: 'blue' }, 'colour'],
      [{ name: 'x', expires_at: '2020-01-01T00:00:00Z' }, 'expires_at'],
    ];
    for (const [body, param] of cases) {
      const answer = await gateway.admin('POST', '/admin/keys', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.error.type, 'invalid_request_error');
      assert.equal(answer.json.error.param, param, JSON.stringify(answer.json));
    }
    assert.equal((await gateway.admin('GET', '/admin/keys/zzzzzzzzzzzz')).status, 404);
    assert.equal((await gateway.admin('DELETE', '/admin/keys/nonsense')).status, 404);
    const { key } = await gateway.createKey({ name: 'not-an-admin' });
    for (const presented of [key, 'static-client-key-000001', 'wrong']) {
      const answer = await fetch(`${gateway.url}/admin/keys`, {
        headers: { authorization: `Bearer ${presented}` },
      });
      assert.equal(answer.status, 401);
    }
  });

  it('writes one audit line per admin call, naming the admin key by id and never a key', async () => {
    const created = await gateway.createKey({ name: 'audited' });
    await gateway.admin('PATCH', `/admin/keys/${created.id}`, { rpm: 10, name: 'audited-2' });
    await gateway.admin('DELETE', `/admin/keys/${created.id}`);
    const lines = gateway.logLines().filter((line) => line.audit === true && line.action);
    const mine = lines.filter((line) => line.targetKeyId === created.id);
    assert.deepEqual(
      mine.map((line) => [line.action, line.status]),
      [
        ['key.create', 201],
        ['key.get', 200],
        ['key.update', 200],
        ['key.revoke', 200],
      ].filter(([action]) => action !== 'key.get'),
    );
    assert.deepEqual(mine.find((line) => line.action === 'key.update').fields.sort(), ['name', 'rpm']);
    const adminId = gateway.keys.authenticator.idOf(adminKey);
    assert.ok(mine.every((line) => line.keyId === adminId));
    const everything = JSON.stringify(gateway.logLines());
    assert.ok(!everything.includes(created.key), 'the key is never logged');
    assert.ok(!everything.includes(adminKey), 'the admin key is never logged');
  });

  it('per-key series on /metrics and a keys panel in the dashboard snapshot', async () => {
    const created = await gateway.createKey({
      name: 'observed',
      rpm: 100,
      budget: { usd: 2, period: 'month' },
    });
    await gateway.clientFor(created.key).chat.completions.create(hello('cheap'));
    await eventually(async () => {
      const text = await (
        await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })
      ).text();
      return (
        text.includes(`switchyard_key_requests{key="${created.id}"} 1`) &&
        text.includes(`switchyard_key_budget_usd{key="${created.id}"} 2`) &&
        new RegExp(`switchyard_key_spend_usd\\{key="${created.id}"\\} 0\\.0000\\d+`).test(text)
      );
    });
    await eventually(async () => {
      const snapshot = (await (
        await fetch(`${gateway.url}/dashboard/api/snapshot`, {
          headers: { authorization: `Bearer ${adminKey}` },
        })
      ).json()) as { keys: Array<Record<string, any>> };
      const row = snapshot.keys.find((key) => key.id === created.id);
      return (
        row?.requests === 1 &&
        row.rpm === 100 &&
        row.budget_usd === 2 &&
        row.period_spend_usd > 0 &&
        row.last_used_at > 0
      );
    });
  });
});

function utcTomorrow(): [number, number, number] {
  const now = new Date();
  return [now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1];
}
