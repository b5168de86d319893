/** The response cache (issue 16): deterministic requests answered once upstream, then from the cache at no cost. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { postJson, startTestGateway } from '../helpers/gateway.ts';

describe('response cache', () => {
  let upstream: FakeUpstream;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let answers = 0;

  before(async () => {
    upstream = await startFakeUpstream((request, response) => {
      answers++;
      const body = request.json as { stream?: boolean };
      const text = `answer ${answers}`;
      if (body.stream) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(
          `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] })}\n\n`,
        );
        response.write(
          `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
        );
        response.end('data: [DONE]\n\n');
        return;
      }
      sendJson(response, 200, {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
      });
    });
    gateway = await startTestGateway({
      server: { api_keys: ['sk-test-key-one-0001', 'sk-test-key-two-0002'] },
      cache: { enabled: true, ttl: 60 },
      models: {
        m: {
          provider: 'openai',
          base_url: `${upstream.url}/v1`,
          api_key: 'sk-upstream-000000',
          cost_per_1k: 0.01,
        },
      },
    });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  const ask = (content: string, extra: Record<string, unknown> = {}) => ({
    model: 'm',
    messages: [{ role: 'user', content }],
    ...extra,
  });
  const as = (key: string, headers: Record<string, string> = {}) => ({
    authorization: `Bearer ${key}`,
    ...headers,
  });
  const url = () => `${gateway.url}/v1/chat/completions`;

  it('the same deterministic request is answered once upstream; the hit costs nothing and says so', async () => {
    const before = answers;
    const first = await postJson(url(), ask('q1', { temperature: 0 }), as('sk-test-key-one-0001'));
    const second = await postJson(url(), ask('q1', { temperature: 0 }), as('sk-test-key-one-0001'));
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    assert.equal(second.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.equal(answers - before, 1, 'one upstream call');
    gateway.requestLog?.flush();
    const rows = gateway.requestLog!.query({ limit: 2 }).data;
    assert.equal(rows[0]!.cache, 'hit');
    assert.equal(rows[0]!.cost_usd, 0);
    assert.ok(rows[1]!.cost_usd > 0);
    const metrics = await (
      await fetch(`${gateway.url}/metrics`, { headers: as('sk-test-key-one-0001') })
    ).text();
    assert.match(metrics, /switchyard_cache_total\{result="hit"\} [1-9]/);
  });

  it('non-deterministic requests are not cached unless the client forces it; no-cache skips the look-up', async () => {
    const before = answers;
    await postJson(url(), ask('q2', { temperature: 0.7 }), as('sk-test-key-one-0001'));
    const again = await postJson(url(), ask('q2', { temperature: 0.7 }), as('sk-test-key-one-0001'));
    assert.equal(again.headers.get('x-switchyard-cache'), null);
    assert.equal(answers - before, 2);
    await postJson(
      url(),
      ask('q3', { temperature: 0.7 }),
      as('sk-test-key-one-0001', { 'x-switchyard-cache': 'force' }),
    );
    const forced = await postJson(
      url(),
      ask('q3', { temperature: 0.7 }),
      as('sk-test-key-one-0001', { 'x-switchyard-cache': 'force' }),
    );
    assert.equal(forced.headers.get('x-switchyard-cache'), 'hit');
    const fresh = await postJson(
      url(),
      ask('q1', { temperature: 0 }),
      as('sk-test-key-one-0001', { 'cache-control': 'no-cache' }),
    );
    assert.equal(fresh.headers.get('x-switchyard-cache'), 'miss');
    assert.notEqual(fresh.json.choices[0].message.content, 'answer 1', 'answered upstream');
  });

  it("one key never gets another key's cached answer", async () => {
    await postJson(url(), ask('q4', { seed: 7 }), as('sk-test-key-one-0001'));
    const other = await postJson(url(), ask('q4', { seed: 7 }), as('sk-test-key-two-0002'));
    assert.equal(other.headers.get('x-switchyard-cache'), 'miss');
  });

  it('a cached answer replays as a stream, and a streamed answer is cached', async () => {
    await postJson(url(), ask('q5', { temperature: 0 }), as('sk-test-key-one-0001'));
    const streamed = await postJson(
      url(),
      ask('q5', { temperature: 0, stream: true }),
      as('sk-test-key-one-0001'),
    );
    assert.equal(streamed.headers.get('x-switchyard-cache'), 'hit');
    assert.match(streamed.text, /data: \[DONE\]/);
    const text = streamed.text
      .split('\n\n')
      .filter((event) => event.startsWith('data: {'))
      .map((event) => JSON.parse(event.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    const plain = await postJson(url(), ask('q5', { temperature: 0 }), as('sk-test-key-one-0001'));
    assert.equal(text, plain.json.choices[0].message.content);
    const before = answers;
    await postJson(url(), ask('q6', { temperature: 0, stream: true }), as('sk-test-key-one-0001'));
    const after = await postJson(url(), ask('q6', { temperature: 0 }), as('sk-test-key-one-0001'));
    assert.equal(after.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(answers - before, 1);
  });
});
