import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';

describe('POST /v1/route and embeddings', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let upstream: FakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream((_request, response) =>
      sendJson(response, 200, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [1, 2, 3] }],
        model: 'e',
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    );
    gateway = await startTestGateway({
      models: {
        'gpt-4o': fastSimulated({
          strengths: ['complex_reasoning', 'coding', 'creative_writing'],
          cost_per_1k: 0.005,
          max_tokens: 128000,
          capabilities: ['vision', 'tools', 'streaming'],
        }),
        'gpt-4o-mini': fastSimulated({
          strengths: ['simple_qa', 'classification'],
          cost_per_1k: 0.00015,
          weight: 120,
          capabilities: ['tools', 'streaming'],
        }),
        embedder: {
          provider: 'openai',
          base_url: `${upstream.url}/v1`,
          api_key: 'k',
          capabilities: ['embeddings'],
          strengths: [],
        },
      },
    });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('explains a decision without calling a model', async () => {
    const { status, json } = await postJson(`${gateway.url}/v1/route`, {
      model: 'auto',
      messages: [{ role: 'user', content: '帮我写一个 Redis 连接池的实现,要求线程安全' }],
    });
    assert.equal(status, 200);
    assert.equal(json.model, 'gpt-4o');
    assert.equal(json.task, 'coding');
    assert.ok(Array.isArray(json.fallbacks));
    assert.ok(json.scores.length >= 2);
    assert.equal(typeof json.estimatedCostUsd, 'number');
    assert.match(json.reason, /coding/);
    assert.doesNotMatch(JSON.stringify(json), /"k"|apiKey/, 'no spec internals or keys');
  });

  it('names why each model was excluded', async () => {
    const { status, json } = await postJson(`${gateway.url}/v1/route`, {
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
    assert.equal(status, 200);
    assert.equal(json.model, 'gpt-4o');
    assert.ok(
      json.excluded.some(
        (exclusion: { model: string; reason: string }) =>
          exclusion.model === 'gpt-4o-mini' && /vision/.test(exclusion.reason),
      ),
    );
  });

  it('a request no model can take: 422 naming each reason', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, {
      model: 'auto',
      tools: [{ type: 'function', function: { name: 'f' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'x' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
      max_tokens: 200000,
    });
    assert.equal(result.status, 422);
    assert.equal(result.json.error.code, 'no_eligible_model');
    assert.match(result.json.error.message, /gpt-4o/);
    assert.match(result.json.error.message, /gpt-4o-mini/);
  });

  it('embeddings go to a model with the embeddings capability', async () => {
    const { status, json, headers } = await postJson(`${gateway.url}/v1/embeddings`, {
      model: 'auto',
      input: 'hello',
    });
    assert.equal(status, 200);
    assert.deepEqual(json.data[0].embedding, [1, 2, 3]);
    assert.equal(headers.get('x-switchyard-model'), 'embedder');
    const viaClient = await gateway.client.embeddings.create({ model: 'embedder', input: 'hello' });
    assert.equal(viaClient.data.length, 1);
  });
});
