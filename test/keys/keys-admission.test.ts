/**
 * A keyed request to a model with fleet-wide caps: the key's buckets and the primary model's caps
 * are admitted together, all or nothing, in one store call (one Redis round trip with shared
 * state), and the model's first attempt uses that admission instead of taking another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Admission } from '../../src/state/store.ts';
import { fastSimulated } from '../helpers/gateway.ts';
import { hello, type KeysGateway, startKeysGateway } from './helpers.ts';

const minuteMs = 60_000;
const requestsOf = (model: string) => `window:model:${model}:requests`;
const tokensOf = (model: string) => `window:model:${model}:tokens`;

describe('key and model admitted together', () => {
  let gateway: KeysGateway;
  const admissions: Admission[] = [];
  before(async () => {
    gateway = await startKeysGateway({
      models: {
        capped: fastSimulated({ rpm: 2, tpm: 100_000, fallbacks: ['spare'] }),
        spare: fastSimulated({ tpm: 100_000 }),
      },
      cache: { enabled: true },
    });
    const store = gateway.gateway.store;
    const admit = store.admit.bind(store);
    store.admit = (admission) => {
      admissions.push(admission);
      return admit(admission);
    };
  });
  after(() => gateway.close());

  const windowTotal = (key: string) => gateway.gateway.store.windowTotal(key, minuteMs);

  it('one store admission for the key and the primary model; the tokens are settled to the real usage', async () => {
    const { key } = await gateway.createKey({ name: 'together', rpm: 100, tpm: 1_000_000 });
    admissions.length = 0;
    const { data, response } = await gateway
      .clientFor(key)
      .chat.completions.create(hello('capped', { max_tokens: 40 }))
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-model'), 'capped');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '99', "the key's own headers");
    assert.equal(admissions.length, 1, 'one admission for both');
    const keys = admissions[0]!.buckets.map((bucket) => bucket.key);
    assert.ok(keys.includes(requestsOf('capped')) && keys.includes(tokensOf('capped')), keys.join(' '));
    assert.ok(
      keys.some((name) => name.startsWith('window:key:')),
      keys.join(' '),
    );
    assert.equal(await windowTotal(requestsOf('capped')), 1, 'the model counted once');
    // The model's tokens were reserved as an estimate, then settled to what the answer used.
    const used = (data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0);
    assert.ok(used > 0);
    assert.equal(await windowTotal(tokensOf('capped')), used);
  });

  it('a model at its cap: the key is admitted alone and the request falls back, counted once by the key', async () => {
    const { key, id } = await gateway.createKey({ name: 'over-cap', rpm: 100 });
    const client = gateway.clientFor(key);
    // The cap is 2 per minute and the first test used one: one more fits, the next does not.
    const second = await client.chat.completions.create(hello('capped', { max_tokens: 5 })).withResponse();
    assert.equal(second.response.headers.get('x-switchyard-model'), 'capped');
    admissions.length = 0;
    const third = await client.chat.completions.create(hello('capped', { max_tokens: 5 })).withResponse();
    assert.equal(third.response.headers.get('x-switchyard-model'), 'spare', 'fell back past the cap');
    assert.equal(third.response.headers.get('x-ratelimit-remaining-requests'), '98');
    assert.equal(await windowTotal(requestsOf('capped')), 2, 'the refused model took nothing');
    assert.equal(await windowTotal(`window:key:${id}:requests`), 2, 'the key counted each request once');
    // Together (refused by the model), then the key alone; `spare` has no rpm, only its tpm.
    assert.deepEqual(
      admissions.map((admission) => admission.buckets.length),
      [3, 1, 1],
      JSON.stringify(admissions.map((admission) => admission.buckets.map((bucket) => bucket.key))),
    );
  });

  it('a cached answer gives the model admission it never used back whole', async () => {
    const { key } = await gateway.createKey({ name: 'cached', rpm: 100 });
    const client = gateway.clientFor(key);
    const question = hello('spare', {
      max_tokens: 7,
      temperature: 0, // deterministic: cacheable
      messages: [{ role: 'user', content: 'Cache me, please.' }],
    });
    const first = await client.chat.completions.create(question).withResponse();
    assert.equal(first.response.headers.get('x-switchyard-cache'), 'miss');
    const tokensBefore = await windowTotal(tokensOf('spare'));
    const again = await client.chat.completions.create(question).withResponse();
    assert.equal(again.response.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(await windowTotal(tokensOf('spare')), tokensBefore, 'the reservation was refunded');
  });
});
