/**
 * Planning: model resolution and priority precedence in one place (gateway/plan.ts), and the
 * routing defects the outside tests found (issue 10: named models, weights, embeddings-only
 * models), through a real gateway.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';
import { createGateway, type Gateway } from '../../src/gateway/index.ts';
import { resolvePriority } from '../../src/gateway/plan.ts';
import type { RouteDecision } from '../../src/routing/types.ts';
import { fastSimulated } from '../helpers/gateway.ts';

function gatewayWith(config: Partial<RawConfig> & { models: RawConfig['models'] }, seed = 7): Gateway {
  return createGateway({
    config: normalizeConfig(
      { ...config, observability: { log_level: 'silent', request_log: { enabled: false } } },
      {},
    ),
    seed,
    logger: pino({ level: 'silent' }),
  });
}

const question = (text = 'What is a list comprehension?') => ({
  model: 'auto',
  messages: [{ role: 'user' as const, content: text }],
});

describe('priority precedence', () => {
  it('auto:<priority> wins over the header, the header over a rule, the rule over the default', () => {
    assert.equal(resolvePriority('auto:cost', 'speed', 'quality', 'balanced'), 'cost');
    assert.equal(resolvePriority('auto', 'speed', 'quality', 'balanced'), 'speed');
    assert.equal(resolvePriority('auto', undefined, 'quality', 'balanced'), 'quality');
    assert.equal(resolvePriority('auto', undefined, undefined, 'balanced'), 'balanced');
    assert.equal(resolvePriority('gpt-4o', undefined, undefined, 'cost'), 'cost');
  });

  it('auto:cost with a matching rule that says quality routes as cost (the request is explicit)', async () => {
    const gateway = gatewayWith({
      models: {
        cheap: fastSimulated({ cost_per_1k: 0.0001, quality: 4 }),
        strong: fastSimulated({ cost_per_1k: 0.01, quality: 9 }),
      },
      routing: { rules: [{ name: 'q', match: { keywords: ['comprehension'] }, priority: 'quality' }] },
    });
    try {
      const viaRequest = gateway.route({ ...question(), model: 'auto:cost' }) as RouteDecision;
      assert.equal(viaRequest.priority, 'cost');
      assert.equal(viaRequest.model, 'cheap');
      const viaRule = gateway.route(question()) as RouteDecision;
      assert.equal(viaRule.priority, 'quality');
      assert.equal(viaRule.model, 'strong');
      const viaHeader = gateway.route(question(), {
        headers: { 'x-switchyard-priority': 'cost' },
      }) as RouteDecision;
      assert.equal(viaHeader.priority, 'cost', 'the header wins over the rule');
    } finally {
      await gateway.close();
    }
  });

  it('a bad priority header is a 400 naming it', async () => {
    const gateway = gatewayWith({ models: { a: fastSimulated() } });
    try {
      assert.throws(
        () => gateway.route(question(), { headers: { 'x-switchyard-priority': 'fastest' } }),
        (error: { status: number; param: string }) =>
          error.status === 400 && error.param === 'x-switchyard-priority',
      );
    } finally {
      await gateway.close();
    }
  });
});

describe('which models may answer', () => {
  it('weight is a load weight only: 300:100 splits auto traffic 75:25', async () => {
    const gateway = gatewayWith({
      models: { heavy: fastSimulated({ weight: 300 }), light: fastSimulated({ weight: 100 }) },
    });
    try {
      const counts: Record<string, number> = {};
      for (let i = 0; i < 4000; i++) {
        const decision = gateway.route(question()) as RouteDecision;
        counts[decision.model] = (counts[decision.model] ?? 0) + 1;
      }
      const share = (counts.heavy ?? 0) / 4000;
      // Binomial sd at p = 0.75, n = 4000 is 0.0068: 3 points is over 4 sd.
      assert.ok(Math.abs(share - 0.75) < 0.03, `heavy got ${(share * 100).toFixed(1)}%`);
      const scores = (gateway.route(question()) as RouteDecision).scores;
      assert.equal(scores[0]!.score, scores[1]!.score, 'weight never changes the score');
    } finally {
      await gateway.close();
    }
  });

  it('a named model with no fallbacks is answered by itself or not at all', async () => {
    const gateway = gatewayWith({ models: { a: fastSimulated(), b: fastSimulated() } });
    try {
      gateway.simulation('a')!.takeDown('error');
      await assert.rejects(
        gateway.chat({ ...question(), model: 'a' }),
        (error: { status: number }) => error.status >= 500,
      );
      const answered = await gateway.chat({ ...question(), model: 'b' });
      assert.equal(answered.meta.model, 'b');
    } finally {
      await gateway.close();
    }
  });

  it('a named model falls back to its own fallbacks, in order, and reports them', async () => {
    const gateway = gatewayWith({
      models: { a: fastSimulated({ fallbacks: ['c'] }), b: fastSimulated(), c: fastSimulated() },
    });
    try {
      gateway.simulation('a')!.takeDown('error');
      const { meta } = await gateway.chat({ ...question(), model: 'a' });
      assert.equal(meta.model, 'c');
      assert.equal(meta.fallbacks, 1);
    } finally {
      await gateway.close();
    }
  });

  it('an embeddings-only model is never chosen for chat, and serves embeddings', async () => {
    const gateway = gatewayWith({
      models: {
        embedder: { provider: 'openai', base_url: 'http://127.0.0.1:9/v1', capabilities: ['embeddings'] },
        chat: fastSimulated(),
      },
    });
    try {
      for (let i = 0; i < 50; i++) {
        const decision = gateway.route(question()) as RouteDecision;
        assert.equal(decision.model, 'chat');
        assert.ok(!decision.fallbacks.includes('embedder'));
      }
      const excluded = (gateway.route(question()) as RouteDecision).excluded;
      assert.deepEqual(excluded, [{ model: 'embedder', reason: 'serves no chat (embeddings only)' }]);
      await assert.rejects(
        gateway.embeddings({ model: 'chat', input: 'x' }),
        (error: { status: number; param: string }) => error.status === 400 && error.param === 'model',
      );
    } finally {
      await gateway.close();
    }
  });

  it('a prompt larger than every window is 400 context_length_exceeded on messages', async () => {
    const gateway = gatewayWith({ models: { small: fastSimulated({ max_tokens: 2000 }) } });
    try {
      await assert.rejects(
        gateway.chat({ ...question('word '.repeat(5000)), model: 'auto' }),
        (error: { status: number; code: string; param: string }) =>
          error.status === 400 && error.code === 'context_length_exceeded' && error.param === 'messages',
      );
    } finally {
      await gateway.close();
    }
  });

  it('a model whose rpm cap refused is left out of routing', async () => {
    const gateway = gatewayWith({
      models: { capped: fastSimulated({ rpm: 1, weight: 1000 }), spare: fastSimulated({ weight: 1 }) },
    });
    try {
      const before = gateway.route(question()) as RouteDecision;
      assert.deepEqual(before.excluded, [], 'nothing is known to refuse yet');
      // One request takes the minute's only slot; the next is refused by the store (a 429: the
      // named model has no fallbacks) and the refusal is cached locally, where routing reads it.
      await gateway.chat({ ...question(), model: 'capped' });
      await assert.rejects(
        gateway.chat({ ...question(), model: 'capped' }),
        (error: { status: number }) => error.status === 429,
      );
      const after = gateway.route(question()) as RouteDecision;
      assert.equal(after.model, 'spare');
      const exclusion = after.excluded.find((entry) => entry.model === 'capped');
      assert.match(exclusion?.reason ?? '', /at its rpm\/tpm cap for \d+s/, JSON.stringify(after.excluded));
    } finally {
      await gateway.close();
    }
  });

  it('a request nested too deeply is a 400 naming where, never a stack overflow', async () => {
    const gateway = gatewayWith({ models: { a: fastSimulated() } });
    try {
      let schema: Record<string, unknown> = { type: 'string' };
      for (let i = 0; i < 10_000; i++) schema = { type: 'object', properties: { x: schema } };
      await assert.rejects(
        gateway.chat({
          ...question(),
          tools: [{ type: 'function', function: { name: 'f', parameters: schema } }],
        }),
        (error: { status: number; param: string }) =>
          error.status === 400 && error.param.startsWith('tools[0].function.parameters'),
      );
      let input: unknown = 'x';
      for (let i = 0; i < 10_000; i++) input = [input];
      await assert.rejects(
        gateway.embeddings({ model: 'a', input: input as string[] }),
        (error: { status: number }) => error.status === 400,
      );
    } finally {
      await gateway.close();
    }
  });
});
