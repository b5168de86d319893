/**
 * POST /v1/messages through a real gateway, driven by the official `@anthropic-ai/sdk`, over each
 * kind of backend: fake upstreams speaking OpenAI Chat Completions, Anthropic Messages and Gemini,
 * and the simulated provider. Plain answers, a streamed tool call (tool_use with
 * input_json_delta), a tool_result round trip, the decision headers, and the raw event sequence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { FakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, startTestGateway } from '../helpers/gateway.ts';
import { parseFrames } from './helpers.ts';
import { modelFor, startFake, type UpstreamKind, upstreamKinds } from './server-fakes.ts';

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

type Backend = UpstreamKind | 'simulated';
const backends: Backend[] = [...upstreamKinds, 'simulated'];

for (const backend of backends) {
  describe(`POST /v1/messages with the Anthropic SDK over a ${backend} backend`, () => {
    let upstream: FakeUpstream | undefined;
    let gateway: Awaited<ReturnType<typeof startTestGateway>>;
    let client: Anthropic;
    before(async () => {
      upstream = backend === 'simulated' ? undefined : await startFake(backend);
      gateway = await startTestGateway({
        models: {
          target:
            backend === 'simulated'
              ? fastSimulated({ simulate: { ttft_ms: 1, ttft_sigma: 0, tokens_per_second: 20_000 } })
              : modelFor(backend, upstream!),
        },
      });
      client = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
    });
    after(async () => {
      await gateway.close();
      await upstream?.close();
    });

    it('messages.create: a text answer with usage, stop_reason and the decision headers', async () => {
      const { data: message, response } = await client.messages
        .create({ model: 'target', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }] })
        .withResponse();
      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      assert.match(message.id, /^msg_/);
      assert.equal(message.stop_reason, 'end_turn');
      const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      if (backend === 'simulated') assert.ok(text.length > 0, 'simulated text');
      else assert.equal(text, `Hello from ${backend}.`);
      assert.ok(message.usage.output_tokens > 0, 'output tokens');
      if (backend !== 'simulated') {
        assert.equal(message.usage.input_tokens, 11);
        assert.equal(message.usage.output_tokens, 7);
      }
      assert.equal(response.headers.get('x-switchyard-model'), 'target');
      assert.equal(response.headers.get('x-switchyard-fallbacks'), '0');
      const requestId = response.headers.get('x-switchyard-request-id');
      assert.match(requestId ?? '', /^req_/);
      assert.equal(response.headers.get('request-id'), requestId, 'request-id is our id');
      assert.ok(response.headers.get('x-switchyard-task'));
      assert.ok(response.headers.get('x-switchyard-priority'));
    });

    it('messages.stream(): a streamed tool call as tool_use with input_json_delta', async () => {
      const stream = client.messages.stream({
        model: 'target',
        max_tokens: 64,
        tools: [weatherTool],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [{ role: 'user', content: 'What is the weather in Paris? Use get_weather.' }],
      });
      const types: string[] = [];
      let partialJson = '';
      for await (const event of stream) {
        types.push(event.type === 'content_block_delta' ? `delta:${event.delta.type}` : event.type);
        if (event.type === 'content_block_start') {
          if (event.content_block.type === 'tool_use') types.push('tool_use_start');
        }
        if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
          partialJson += event.delta.partial_json;
        }
      }
      const final = await stream.finalMessage();
      assert.equal(types[0], 'message_start');
      assert.ok(types.includes('tool_use_start'), `a tool_use block: ${types.join(',')}`);
      assert.ok(types.includes('delta:input_json_delta'), `input_json_delta: ${types.join(',')}`);
      assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
      assert.equal(final.stop_reason, 'tool_use');
      const call = final.content.find((block) => block.type === 'tool_use');
      assert.ok(call && call.type === 'tool_use', 'final message holds the tool_use');
      assert.equal(call.name, 'get_weather');
      assert.match(call.id, /^[a-zA-Z0-9_-]+$/);
      assert.deepEqual(JSON.parse(partialJson), call.input);
      if (backend !== 'simulated') assert.deepEqual(call.input, { city: 'Paris' });
      else assert.equal(typeof (call.input as { city?: unknown }).city, 'string');
    });

    it('a tool_result round trip: the backend reads the result and answers in text', async () => {
      const first = await client.messages.create({
        model: 'target',
        max_tokens: 64,
        tools: [weatherTool],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [{ role: 'user', content: 'What is the weather in Paris? Use get_weather.' }],
      });
      const call = first.content.find((block) => block.type === 'tool_use');
      assert.ok(call && call.type === 'tool_use');
      const second = await client.messages.create({
        model: 'target',
        max_tokens: 64,
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'What is the weather in Paris? Use get_weather.' },
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }],
          },
        ],
      });
      assert.equal(second.stop_reason, 'end_turn');
      const text = second.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      assert.ok(
        !second.content.some((block) => block.type === 'tool_use'),
        'no second call after the result',
      );
      if (backend === 'simulated') {
        assert.ok(text.length > 0);
        return;
      }
      // The fake answers from the result it found in its own wire format.
      assert.equal(text, 'It is sunny in Paris.');
      const sent = upstream!.requests.at(-1)!.json as Record<string, any>;
      if (backend === 'openai') {
        const tool = sent.messages.at(-1);
        assert.equal(tool.role, 'tool');
        assert.equal(tool.tool_call_id, call.id);
        assert.equal(sent.messages.at(-2).tool_calls[0].function.name, 'get_weather');
      } else if (backend === 'anthropic') {
        assert.deepEqual(sent.messages.at(-1).content, [
          { type: 'tool_result', tool_use_id: call.id, content: 'sunny' },
        ]);
        assert.equal(sent.messages.at(-2).content[0].type, 'tool_use');
      } else {
        const part = sent.contents.at(-1).parts[0];
        assert.equal(part.functionResponse.name, 'get_weather');
        assert.equal(sent.contents.at(-2).parts[0].functionCall.name, 'get_weather');
      }
    });

    it('a streamed text answer accumulates to the same text as the plain one', async () => {
      const stream = client.messages.stream({
        model: 'target',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Say hello' }],
      });
      let deltas = '';
      stream.on('text', (piece) => {
        deltas += piece;
      });
      const final = await stream.finalMessage();
      const text = final.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      assert.equal(deltas, text);
      assert.equal(final.stop_reason, 'end_turn');
      if (backend !== 'simulated') {
        assert.equal(text, `Hello from ${backend}.`);
        assert.equal(final.usage.input_tokens, 11, 'message_delta carries the upstream input count');
        assert.equal(final.usage.output_tokens, 7);
      }
    });
  });
}

describe('the raw Messages event stream', () => {
  let upstream: FakeUpstream;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startFake('openai');
    gateway = await startTestGateway({ models: { target: modelFor('openai', upstream) } });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it("follows Anthropic's sequence: message_start, ping, blocks, message_delta, message_stop", async () => {
    const response = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'target',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'Say hello' }],
      }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-switchyard-model'), 'target');
    const events = parseFrames(await response.text());
    const names = events.map((event) => event.event);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'ping', 'content_block_start']);
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    for (const event of events) assert.equal(event.data.type, event.event, 'data.type names the event');
    const text = events
      .filter((event) => event.event === 'content_block_delta')
      .map((event) => (event.data.delta as { text: string }).text)
      .join('');
    assert.equal(text, 'Hello from openai.');
    const delta = events.find((event) => event.event === 'message_delta')!.data;
    assert.deepEqual(delta.delta, { stop_reason: 'end_turn', stop_sequence: null });
    assert.equal((delta.usage as { output_tokens: number }).output_tokens, 7);
  });
});
