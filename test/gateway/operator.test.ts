/** Operator controls (the request console's): take a model out of rotation and back, reset a breaker. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import { createGateway } from '../../src/gateway/index.ts';
import type { RouteDecision } from '../../src/routing/types.ts';
import { MemoryStore } from '../../src/state/store.ts';
import { fastSimulated } from '../helpers/gateway.ts';

const ask = (model = 'auto') => ({ model, messages: [{ role: 'user' as const, content: 'Hello there?' }] });

function make(store = new MemoryStore()) {
  return createGateway({
    config: normalizeConfig(
      {
        models: {
          a: fastSimulated({ circuit_breaker: { failure_threshold: 1, recovery_timeout: 600 } }),
          b: fastSimulated(),
        },
        observability: { log_level: 'silent', request_log: { enabled: false } },
      },
      {},
    ),
    store,
    seed: 5,
    logger: pino({ level: 'silent' }),
  });
}

describe('operator controls', () => {
  it('a model out of rotation gets no traffic on any instance sharing the store, and comes back', async () => {
    const store = new MemoryStore();
    const one = make(store);
    const two = make(store);
    try {
      await Promise.all([one.ready(), two.ready()]);
      assert.equal(await one.setInRotation('a', false), true);
      for (let i = 0; i < 30; i++) {
        assert.equal((two.route(ask()) as RouteDecision).model, 'b', 'the other instance follows');
      }
      await assert.rejects(one.chat(ask('a')), (error: { status: number }) => error.status === 503);
      assert.equal(one.modelStatus().find((status) => status.model === 'a')?.inRotation, false);
      await one.setInRotation('a', true);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) seen.add((two.route(ask()) as RouteDecision).model);
      assert.ok(seen.has('a'), 'back in rotation');
      assert.equal(await one.setInRotation('missing', false), false);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('resetting a breaker closes it at once', async () => {
    const gateway = make();
    try {
      gateway.simulation('a')!.takeDown('error');
      await gateway.chat(ask('a')).catch(() => {});
      assert.equal(gateway.modelStatus().find((status) => status.model === 'a')?.breaker, 'open');
      gateway.simulation('a')!.restore();
      assert.equal(gateway.resetBreaker('a'), true);
      assert.equal(gateway.modelStatus().find((status) => status.model === 'a')?.breaker, 'closed');
      assert.equal((await gateway.chat(ask('a'))).meta.model, 'a');
    } finally {
      await gateway.close();
    }
  });
});
