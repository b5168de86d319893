/**
 * Budgets reserve before they charge: requests fired at once at a tiny budget cannot jointly
 * spend past it, because each reserves its worst case (prompt + max_tokens at the model's price)
 * before it runs, and what it did not use is given back when it ends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type OpenAI from 'openai';
import { fastSimulated } from '../helpers/gateway.ts';
import { eventually, hello, startKeysGateway } from './helpers.ts';

describe('budget reservations', () => {
  it('30 parallel requests at a budget of ~7 reservations: at most that many run, spend stays within the budget', async () => {
    const gateway = await startKeysGateway({
      models: {
        slow: fastSimulated({
          cost_per_1k: 0.001,
          simulate: {
            ttft_ms: 150,
            ttft_sigma: 0,
            tokens_per_second: 5000,
            output_tokens: { min: 5, max: 8 },
          },
        }),
      },
    });
    try {
      const budgetUsd = 0.0005;
      const created = await gateway.createKey({ name: 'tiny', budget: { usd: budgetUsd, period: 'total' } });
      const client = gateway.clientFor(created.key);
      const maxTokens = 50;
      // The smallest possible reservation: max_tokens alone at $0.001 per 1k (the prompt adds more).
      const leastReservation = (maxTokens * 0.001) / 1000;
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, index) =>
          index % 3 === 0
            ? (async () => {
                let text = '';
                const stream = await client.chat.completions.create({
                  ...hello('slow'),
                  max_tokens: maxTokens,
                  stream: true,
                });
                for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
                return text;
              })()
            : client.chat.completions.create(hello('slow', { max_tokens: maxTokens })),
        ),
      );
      const admitted = results.filter((result) => result.status === 'fulfilled').length;
      const refused = results.filter((result) => result.status === 'rejected');
      for (const result of refused) {
        const error = (result as PromiseRejectedResult).reason as InstanceType<typeof OpenAI.APIError>;
        assert.equal(error.status, 429);
        assert.equal(error.code, 'insufficient_quota');
        assert.equal(error.headers?.get('retry-after'), null, 'a total budget never renews');
      }
      assert.ok(admitted >= 1, 'some requests ran');
      assert.ok(
        admitted <= Math.floor(budgetUsd / leastReservation),
        `${admitted} requests ran: more than the budget could reserve at once`,
      );
      const read = (await gateway.admin('GET', `/admin/keys/${created.id}`)).json;
      assert.ok(read.usage.spend_usd > 0);
      assert.ok(read.usage.spend_usd <= budgetUsd, `spent ${read.usage.spend_usd} of ${budgetUsd}`);
      // Nothing is in flight now: what the budget holds is the real spend, every reservation settled.
      assert.ok(Math.abs(read.budget.spent_usd - read.usage.spend_usd) < 1e-9, JSON.stringify(read.budget));
      // The refunds left room: a request is admitted again once this instance's one-second memory of
      // the refusal has passed.
      await eventually(() =>
        client.chat.completions.create(hello('slow', { max_tokens: maxTokens })).then(
          () => true,
          () => false,
        ),
      );
      console.log(`admitted ${admitted} of 30; spent $${read.usage.spend_usd} of $${budgetUsd}`);
    } finally {
      await gateway.close();
    }
  });
});
