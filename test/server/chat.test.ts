import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fastSimulated, startTestGateway } from '../helpers/gateway.ts';

describe('chat completions through the official openai client', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    gateway = await startTestGateway({
      models: {
        'gpt-4o': fastSimulated({
          strengths: ['complex_reasoning', 'coding', 'creative_writing'],
          weight: 100,
        }),
        'gpt-4o-mini': fastSimulated({
          strengths: ['simple_qa', 'classification'],
          cost_per_1k: 0.0002,
          weight: 120,
        }),
      },
    });
  });
  after(() => gateway.close());

  it('answers a non-streaming request routed by task, with decision headers', async () => {
    const { data, response } = await gateway.client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'What is 2+2?' }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.ok((data.choices[0]?.message.content ?? '').length > 0);
    assert.equal(response.headers.get('x-switchyard-model'), 'gpt-4o-mini');
    assert.equal(data.model, 'gpt-4o-mini');
    assert.equal(response.headers.get('x-switchyard-task'), 'simple_qa');
    assert.equal(response.headers.get('x-switchyard-fallbacks'), '0');
    assert.match(response.headers.get('x-switchyard-request-id') ?? '', /^req_/);
    assert.ok(data.usage && data.usage.total_tokens > 0);
  });

  it('streams with one clean SSE stream ending in [DONE]', async () => {
    const { data: stream, response } = await gateway.client.chat.completions
      .create({
        model: 'auto',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Write a function that reverses a linked list in Python' }],
      })
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-task'), 'coding');
    assert.equal(response.headers.get('x-switchyard-model'), 'gpt-4o');
    let text = '';
    let finish: string | null | undefined;
    let usage: unknown;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
    }
    assert.equal(ids.size, 1, 'one stream id');
    assert.ok(text.startsWith('[gpt-4o]'));
    assert.equal(finish, 'stop');
    assert.ok(usage, 'usage chunk when include_usage is set');
  });

  it('uses a named model as asked', async () => {
    const { response } = await gateway.client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi?' }] })
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-model'), 'gpt-4o');
  });

  it('lists configured models and the auto aliases', async () => {
    const ids: string[] = [];
    for await (const model of gateway.client.models.list()) ids.push(model.id);
    for (const id of [
      'auto',
      'auto:cost',
      'auto:speed',
      'auto:quality',
      'auto:balanced',
      'gpt-4o',
      'gpt-4o-mini',
    ]) {
      assert.ok(ids.includes(id), `${id} listed`);
    }
  });

  it('honours auto:<priority> and the x-switchyard-priority header', async () => {
    const { response } = await gateway.client.chat.completions
      .create({ model: 'auto:cost', messages: [{ role: 'user', content: 'Tell me a story about a dragon' }] })
      .withResponse();
    assert.equal(response.headers.get('x-switchyard-priority'), 'cost');
    const viaHeader = await gateway.client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'hello' }] },
        { headers: { 'x-switchyard-priority': 'quality' } },
      )
      .withResponse();
    assert.equal(viaHeader.response.headers.get('x-switchyard-priority'), 'quality');
  });

  it('reports health', async () => {
    const live = await fetch(`${gateway.url}/health/liveness`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${gateway.url}/health/readiness`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, 'ready');
  });
});
