import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createGateway, defaultConfig, GatewayError } from '../../src/index.ts';

const quiet = pino({ level: 'silent' });
const fast = { ttft_ms: 1, ttft_sigma: 0, tokens_per_second: 10_000, output_tokens: { min: 3, max: 3 } };

describe('the library API', () => {
  it('chat answers with the decision metadata', async () => {
    const gateway = createGateway({
      config: {
        models: { only: { provider: 'simulated', simulate: fast } },
        observability: { request_log: { enabled: false } },
      },
      logger: quiet,
    });
    const { completion, meta } = await gateway.chat({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi?' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(meta.model, 'only');
    assert.equal(meta.task, 'simple_qa');
    assert.equal(meta.fallbacks, 0);
    assert.equal(meta.decision.model, 'only');
    await gateway.close();
  });

  it('batch returns per-request results or errors; one failure never fails the batch', async () => {
    const gateway = createGateway({
      config: {
        models: {
          good: { provider: 'simulated', simulate: fast },
          broken: { provider: 'simulated', simulate: { ...fast, error_rate: 1 } },
        },
        resilience: { max_attempts_per_model: 1 },
        routing: { fallback_count: 0 },
        observability: { request_log: { enabled: false } },
      },
      logger: quiet,
    });
    const requests = Array.from({ length: 25 }, (_, index) => ({
      model: index % 5 === 0 ? 'broken' : 'good',
      messages: [{ role: 'user' as const, content: `question ${index}?` }],
    }));
    let running = 0;
    let peak = 0;
    gateway.events.subscribe({
      inFlight(_model, delta) {
        running += delta;
        peak = Math.max(peak, running);
      },
    });
    const results = await gateway.batch(requests, { concurrency: 4 });
    assert.equal(results.length, 25);
    results.forEach((result, index) => {
      if (index % 5 === 0) {
        assert.equal(result.ok, false);
        if (!result.ok) assert.ok(result.error instanceof GatewayError);
      } else {
        assert.equal(result.ok, true);
        if (result.ok) assert.equal(result.result.meta.model, 'good');
      }
    });
    assert.ok(peak <= 4, `at most 4 at once (saw ${peak})`);
    await gateway.close();
  });

  it('route() decides without calling any model', async () => {
    const gateway = createGateway({
      config: {
        models: { a: { provider: 'simulated', strengths: ['coding'], simulate: { ...fast, error_rate: 1 } } },
        observability: { request_log: { enabled: false } },
      },
      logger: quiet,
    });
    let attempts = 0;
    gateway.events.subscribe({ attempt: () => attempts++ });
    const decision = gateway.route({
      model: 'auto',
      messages: [{ role: 'user', content: 'Write a function in Go' }],
    });
    assert.equal(decision.model, 'a');
    assert.equal(decision.task, 'coding');
    assert.equal(attempts, 0);
    await gateway.close();
  });

  it("the embedded default routes the brief's three scenarios as the article says", async () => {
    const gateway = createGateway({ config: defaultConfig({}).config, logger: quiet, seed: 3 });
    const cheap = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const decision = gateway.route({
        model: 'auto',
        messages: [{ role: 'user', content: 'Python 列表推导式怎么写?' }],
      });
      assert.equal(decision.task, 'simple_qa');
      if (decision.model) cheap.add(decision.model);
    }
    // gpt-4o-mini, sharing with the other cheap simple_qa model by weight.
    assert.ok(cheap.has('gpt-4o-mini'));
    for (const model of cheap) assert.ok(['gpt-4o-mini', 'llama-3'].includes(model), model);
    const redis = gateway.route({
      model: 'auto',
      messages: [{ role: 'user', content: '帮我写一个 Redis 连接池的实现,要求线程安全' }],
    });
    assert.equal(redis.task, 'coding');
    assert.equal(redis.model, 'gpt-4o');
    const image = gateway.route({
      model: 'auto',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: '描述这张图片' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
    });
    assert.equal(image.task, 'multimodal');
    assert.equal(image.model, 'gemini-pro');
    await gateway.close();
  });

  it('invalid config throws with every problem', () => {
    assert.throws(
      () =>
        createGateway({
          config: { models: { a: { provider: 'nope' as 'openai', timeout: -1 } } },
          logger: quiet,
        }),
      (error: Error) => /models\.a\.provider/.test(error.message) && /models\.a\.timeout/.test(error.message),
    );
  });
});

describe('deferSummary: the answer first, the accounting after', () => {
  const config = {
    models: { only: { provider: 'simulated' as const, simulate: fast } },
    observability: { request_log: { enabled: false } },
  };
  const ask = { model: 'auto', messages: [{ role: 'user' as const, content: 'hi?' }] };

  it('emits the summary once, when finish() is called, not before', async () => {
    const gateway = createGateway({ config, logger: quiet });
    const summaries: string[] = [];
    gateway.events.subscribe({ requestFinished: (summary) => summaries.push(summary.requestId) });
    const result = await gateway.chat(ask, { deferSummary: true });
    assert.equal(summaries.length, 0, 'nothing accounted before the caller wrote the answer');
    assert.equal(typeof result.finish, 'function');
    result.finish?.();
    result.finish?.();
    assert.deepEqual(summaries, [result.meta.requestId], 'once, for this request');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(summaries.length, 1, 'the fallback does not emit it again');
    await gateway.close();
  });

  it('emits it on the next turn when the caller never calls finish()', async () => {
    const gateway = createGateway({ config, logger: quiet });
    const summaries: number[] = [];
    gateway.events.subscribe({ requestFinished: (summary) => summaries.push(summary.status) });
    const result = await gateway.chat(ask, { deferSummary: true });
    assert.equal(summaries.length, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(summaries, [200]);
    assert.ok(result.completion.choices[0]?.message.content);
    await gateway.close();
  });

  it('a stream: the summary waits past its last chunk until finish(), once', async () => {
    const gateway = createGateway({ config, logger: quiet });
    const summaries: string[] = [];
    gateway.events.subscribe({ requestFinished: (summary) => summaries.push(summary.requestId) });
    const handle = await gateway.chatStream({ ...ask, stream: true }, { deferSummary: true });
    let text = '';
    for await (const chunk of handle.chunks) text += chunk.choices[0]?.delta.content ?? '';
    assert.ok(text.length > 0);
    assert.equal(summaries.length, 0, 'the caller has not written its last bytes yet');
    handle.finish?.();
    handle.finish?.();
    assert.deepEqual(summaries, [handle.meta.requestId]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(summaries.length, 1);
    await gateway.close();
  });

  it('a stream whose caller never calls finish() is summarised on the next turn', async () => {
    const gateway = createGateway({ config, logger: quiet });
    let summaries = 0;
    gateway.events.subscribe({ requestFinished: () => summaries++ });
    const handle = await gateway.chatStream({ ...ask, stream: true }, { deferSummary: true });
    for await (const _chunk of handle.chunks) {
      // read to the end
    }
    assert.equal(summaries, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(summaries, 1);
    await gateway.close();
  });

  it('a stream its caller stops before reading past the first chunk is summarised as the client closing it', async () => {
    const gateway = createGateway({
      config: {
        ...config,
        models: {
          only: {
            provider: 'simulated' as const,
            simulate: { ...fast, output_tokens: { min: 40, max: 40 } },
          },
        },
      },
      logger: quiet,
    });
    const summaries: Array<{ status: number; code: string | undefined }> = [];
    gateway.events.subscribe({
      requestFinished: (summary) => summaries.push({ status: summary.status, code: summary.errorCode }),
    });
    const handle = await gateway.chatStream({ ...ask, stream: true });
    const iterator = handle.chunks[Symbol.asyncIterator]();
    await iterator.return?.();
    assert.deepEqual(summaries, [{ status: 499, code: 'client_closed_request' }]);
    const after = await iterator.next();
    assert.equal(after.done, true, 'nothing more comes after the caller stopped');
    await gateway.close();
  });

  it('without it the summary is emitted before chat() resolves and there is no finish()', async () => {
    const gateway = createGateway({ config, logger: quiet });
    let summaries = 0;
    gateway.events.subscribe({ requestFinished: () => summaries++ });
    const result = await gateway.chat(ask);
    assert.equal(summaries, 1);
    assert.equal(result.finish, undefined);
    await gateway.close();
  });
});
