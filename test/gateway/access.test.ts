/**
 * What a client key's grant does to a request, at the gateway (the keys subsystem builds grants
 * from key records): allowed models, limits and budget reserved at admission and settled after.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import { type AccessGrant, createGateway, type Gateway } from '../../src/gateway/index.ts';
import type { RouteDecision } from '../../src/routing/types.ts';
import type { Bucket } from '../../src/state/store.ts';
import { fastSimulated } from '../helpers/gateway.ts';

function gateway(): Gateway {
  return createGateway({
    config: normalizeConfig(
      {
        models: {
          cheap: fastSimulated({ cost_per_1k: 0.001 }),
          dear: fastSimulated({ cost_per_1k: 0.01, fallbacks: ['cheap'] }),
        },
        observability: { log_level: 'silent', request_log: { enabled: false } },
      },
      {},
    ),
    seed: 3,
    logger: pino({ level: 'silent' }),
  });
}

const ask = (model = 'auto') => ({ model, messages: [{ role: 'user' as const, content: 'Hello there?' }] });

function grantWith(
  buckets: (estimate: { tokens: number; costUsd: number }) => Bucket[],
  settled: unknown[] = [],
): AccessGrant {
  return {
    keyId: 'key_test',
    admission: (estimate) => ({
      buckets: buckets(estimate),
      describe: (bucket) =>
        bucket.kind === 'quota'
          ? { code: 'insufficient_quota', message: 'budget spent' }
          : { code: 'rate_limit_exceeded', message: 'rpm reached' },
      settle: (usage) => {
        settled.push(usage);
        return [];
      },
      headers: (states) => ({ 'x-ratelimit-remaining-requests': String(states[0]?.remaining ?? '') }),
    }),
  };
}

describe('access grants', () => {
  it('a named model outside the key is 403 model_not_allowed; auto chooses only among allowed models', async () => {
    const g = gateway();
    try {
      const access: AccessGrant = { keyId: 'k', models: new Set(['cheap']) };
      await assert.rejects(
        g.chat(ask('dear'), { access }),
        (error: { status: number; code: string }) =>
          error.status === 403 && error.code === 'model_not_allowed',
      );
      for (let i = 0; i < 20; i++) {
        const { meta } = await g.chat(ask(), { access });
        assert.equal(meta.model, 'cheap');
      }
      const none: AccessGrant = { keyId: 'k', models: new Set(['missing']) };
      await assert.rejects(
        g.chat(ask(), { access: none }),
        (error: { status: number }) => error.status === 403,
      );
      const decision = g.route(ask()) as RouteDecision;
      assert.ok(decision.model, 'without a grant every model routes');
    } finally {
      await g.close();
    }
  });

  it('the rpm bucket refuses the request past the limit with 429 rate_limit_exceeded and Retry-After', async () => {
    const g = gateway();
    try {
      const access = grantWith(() => [
        { kind: 'window', key: 'rpm:k', limit: 2, windowMs: 60_000, amount: 1 },
      ]);
      const first = await g.chat(ask('cheap'), { access });
      assert.equal(first.meta.rateLimitHeaders?.['x-ratelimit-remaining-requests'], '1');
      await g.chat(ask('cheap'), { access });
      await assert.rejects(
        g.chat(ask('cheap'), { access }),
        (error: { status: number; code: string; headers: Record<string, string> }) => {
          assert.equal(error.status, 429);
          assert.equal(error.code, 'rate_limit_exceeded');
          assert.ok(Number(error.headers['retry-after']) >= 59);
          return true;
        },
      );
    } finally {
      await g.close();
    }
  });

  it('a budget reserves the estimate at the dearest model of the chain and settles with the real cost', async () => {
    const g = gateway();
    const settled: Array<{ tokens: number; costUsd: number } | undefined> = [];
    try {
      let reserved = 0;
      const access = grantWith((estimate) => {
        reserved = estimate.costUsd;
        return [
          {
            kind: 'quota',
            key: 'budget:k',
            limit: 1,
            amount: estimate.costUsd,
            expiresAtMs: Date.now() + 86_400_000,
          },
        ];
      }, settled);
      await g.chat({ ...ask('dear'), max_tokens: 100 }, { access });
      // dear falls back to cheap: the reservation is priced at dear, 0.01/1k over prompt + 100 output tokens.
      assert.ok(reserved > 0.001 && reserved < 0.0015, `reserved ${reserved}`);
      assert.equal(settled.length, 1);
      assert.ok(settled[0]!.costUsd > 0 && settled[0]!.costUsd <= reserved, 'settled with what it cost');
      const spent = grantWith(() => [
        { kind: 'quota', key: 'budget:empty', limit: 0.0000001, amount: 1, expiresAtMs: Date.now() + 1000 },
      ]);
      await assert.rejects(
        g.chat(ask('cheap'), { access: spent }),
        (error: { status: number; code: string }) =>
          error.status === 429 && error.code === 'insufficient_quota',
      );
    } finally {
      await g.close();
    }
  });
});
