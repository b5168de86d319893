/**
 * The Messages front door in front of an Anthropic backend: what the client sent reaches the
 * upstream unchanged (cache_control, thinking config and thinking blocks with their signatures,
 * top_k, the anthropic-beta flags), and thinking blocks come back with their signatures, plain
 * and streamed. Plus what the request leaves behind: the request log row (`api = messages`) and
 * `switchyard_requests_total`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type FakeUpstream,
  type RecordedRequest,
  sendJson,
  startFakeUpstream,
  writeSse,
} from '../helpers/fake-upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const signature = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+Zd3Mg4q5sF6s8xGqOG/g==';

function thinkingReply(request: RecordedRequest, response: Parameters<typeof sendJson>[0]): void {
  const body = request.json as { stream?: boolean };
  if (body.stream !== true) {
    sendJson(response, 200, {
      id: 'msg_think',
      type: 'message',
      role: 'assistant',
      model: 'claude-fake',
      content: [
        { type: 'thinking', thinking: 'Three plus three is six.', signature },
        { type: 'text', text: '6' },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 20,
        output_tokens: 9,
        cache_read_input_tokens: 1000,
        cache_creation_input_tokens: 50,
      },
    });
    return;
  }
  writeSse(response, [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_think_stream',
          type: 'message',
          role: 'assistant',
          model: 'claude-fake',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 20, output_tokens: 1, cache_read_input_tokens: 1000 },
        },
      },
    ],
    [
      'content_block_start',
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
    ],
    [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Three plus ' } },
    ],
    [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'three is six.' } },
    ],
    [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature } },
    ],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'content_block_start',
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
    ],
    [
      'content_block_delta',
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: '6' } },
    ],
    ['content_block_stop', { type: 'content_block_stop', index: 1 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 9 },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  ]);
}

describe('Messages front door over an Anthropic backend: the body passes through', () => {
  let upstream: FakeUpstream;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let client: Anthropic;
  before(async () => {
    upstream = await startFakeUpstream(thinkingReply);
    gateway = await startTestGateway({
      models: {
        claude: {
          provider: 'anthropic',
          base_url: upstream.url,
          api_key: 'sk-ant-secret',
          model: 'claude-sonnet-4-5',
          input_cost_per_1k: 0.003,
          output_cost_per_1k: 0.015,
        },
      },
    });
    client = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  const system: Anthropic.TextBlockParam[] = [
    { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
  ];
  const messages: Anthropic.MessageParam[] = [
    {
      role: 'user',
      content: [{ type: 'text', text: 'What is 2+2?', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Two plus two is four.', signature },
        { type: 'text', text: '4' },
      ],
    },
    { role: 'user', content: [{ type: 'text', text: 'And 3+3?' }] },
  ];
  const betas = ['interleaved-thinking-2025-05-14', 'extended-cache-ttl-2025-04-11'];

  it('cache_control, thinking (config and signed blocks), top_k and anthropic-beta reach the upstream unchanged', async () => {
    // The flags as a client sets them by hand (the beta namespace below sets the same header).
    const message = await client.messages.create(
      {
        model: 'claude',
        max_tokens: 2048,
        system,
        messages,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        // The API takes top_k; this SDK's types no longer list it.
        ...({ top_k: 5 } as object),
        metadata: { user_id: 'user-42' },
      },
      { headers: { 'anthropic-beta': betas.join(',') } },
    );
    const sent = upstream.requests.at(-1)!;
    const body = sent.json as Record<string, unknown>;
    assert.equal(body.model, 'claude-sonnet-4-5', 'the configured upstream model id');
    assert.deepEqual(body.system, system);
    assert.deepEqual(body.messages, messages);
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(body.top_k, 5);
    assert.equal(body.max_tokens, 2048);
    assert.deepEqual(body.metadata, { user_id: 'user-42' });
    assert.equal(sent.headers['anthropic-beta'], betas.join(','));
    assert.equal(sent.headers['x-api-key'], 'sk-ant-secret', "the backend's own key, not the client's");

    // The answer's thinking block and its signature come back as sent.
    assert.deepEqual(message.content[0], {
      type: 'thinking',
      thinking: 'Three plus three is six.',
      signature,
    });
    assert.deepEqual(message.content[1], { type: 'text', text: '6' });
    // Anthropic's own usage semantics: cache reads and writes outside input_tokens.
    assert.equal(message.usage.input_tokens, 20);
    assert.equal(message.usage.cache_read_input_tokens, 1000);
    assert.equal(message.usage.cache_creation_input_tokens, 50);
  });

  it('streamed: thinking_delta and signature_delta arrive, and the final message holds the signed block', async () => {
    const stream = client.beta.messages.stream({
      model: 'claude',
      max_tokens: 2048,
      system,
      messages,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      betas,
    });
    const deltas: string[] = [];
    for await (const event of stream) {
      if (event.type === 'content_block_delta') deltas.push(event.delta.type);
    }
    const final = await stream.finalMessage();
    assert.ok(deltas.includes('thinking_delta') && deltas.includes('signature_delta'), deltas.join(','));
    assert.deepEqual(final.content[0], { type: 'thinking', thinking: 'Three plus three is six.', signature });
    assert.equal((final.content[1] as { text: string }).text, '6');
    assert.equal(final.usage.cache_read_input_tokens, 1000);
    const sent = upstream.requests.at(-1)!;
    assert.equal((sent.json as { stream: boolean }).stream, true);
    assert.deepEqual((sent.json as { messages: unknown }).messages, messages);
    assert.equal(sent.headers['anthropic-beta'], betas.join(','));
  });

  it('the request log has the row with api=messages, and switchyard_requests_total counted it', async () => {
    const metricLine =
      /^switchyard_requests_total\{model="claude",provider="anthropic",status="200"\} (\d+)$/m;
    const countBefore = Number(
      metricLine.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1] ?? 0,
    );
    const { response } = await client.messages
      .create({ model: 'claude', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    const requestId = response.headers.get('x-switchyard-request-id');
    assert.ok(requestId);
    assert.equal(response.headers.get('x-switchyard-model'), 'claude');

    const log = (await (await fetch(`${gateway.url}/admin/requests?api=messages`)).json()) as {
      data: Array<{ request_id: string; api: string; model: string; status: number; stream: boolean }>;
    };
    const row = log.data.find((entry) => entry.request_id === requestId);
    assert.ok(row, 'the request is in the log filtered by api=messages');
    assert.equal(row.api, 'messages');
    assert.equal(row.model, 'claude');
    assert.equal(row.status, 200);
    assert.ok(log.data.every((entry) => entry.api === 'messages'));
    const chatRows = (await (await fetch(`${gateway.url}/admin/requests?api=chat`)).json()) as {
      data: Array<{ request_id: string }>;
    };
    assert.ok(!chatRows.data.some((entry) => entry.request_id === requestId), 'not filed under chat');

    const countAfter = Number(
      metricLine.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1] ?? 0,
    );
    assert.equal(countAfter, countBefore + 1);
  });
});
