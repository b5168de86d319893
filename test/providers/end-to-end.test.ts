/**
 * Each real-format adapter behind the gateway, driven by the official openai client:
 * a fake upstream on loopback speaks the provider's own wire format, the client sees OpenAI.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  type FakeUpstream,
  type RecordedRequest,
  sendJson,
  startFakeUpstream,
  writeSse,
} from '../helpers/fake-upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

type Formats = Record<
  string,
  { text: (response: ServerResponse) => void; toolStream: (response: ServerResponse) => void }
>;

const formats: Formats = {
  openai: {
    text: (response) =>
      sendJson(response, 200, {
        id: 'chatcmpl-abc',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-2024-08-06',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'Hello from OpenAI format' },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
      }),
    toolStream: (response) => {
      const base = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o' };
      writeSse(response, [
        [
          undefined,
          {
            ...base,
            choices: [
              {
                index: 0,
                delta: {
                  role: 'assistant',
                  content: null,
                  tool_calls: [
                    {
                      index: 0,
                      id: 'call_1',
                      type: 'function',
                      function: { name: 'get_weather', arguments: '' },
                    },
                  ],
                },
                finish_reason: null,
              },
            ],
          },
        ],
        [
          undefined,
          {
            ...base,
            choices: [
              {
                index: 0,
                delta: { tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] },
                finish_reason: null,
              },
            ],
          },
        ],
        [
          undefined,
          {
            ...base,
            choices: [
              {
                index: 0,
                delta: { tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] },
                finish_reason: null,
              },
            ],
          },
        ],
        [undefined, { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }],
        [
          undefined,
          { ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 } },
        ],
        [undefined, '[DONE]'],
      ]);
    },
  },
  anthropic: {
    text: (response) =>
      sendJson(response, 200, {
        id: 'msg_01',
        type: 'message',
        role: 'assistant',
        model: 'claude-3-5-sonnet-20241022',
        content: [{ type: 'text', text: 'Hello from Anthropic format' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 9, output_tokens: 5 },
      }),
    toolStream: (response) =>
      writeSse(response, [
        [
          'message_start',
          {
            type: 'message_start',
            message: {
              id: 'msg_02',
              type: 'message',
              role: 'assistant',
              model: 'claude-3-5-sonnet-20241022',
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 20, output_tokens: 1 },
            },
          },
        ],
        [
          'content_block_start',
          {
            type: 'content_block_start',
            index: 0,
            content_block: { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: {} },
          },
        ],
        ['ping', { type: 'ping' }],
        [
          'content_block_delta',
          {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: '{"ci' },
          },
        ],
        [
          'content_block_delta',
          {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: 'ty":"Paris"}' },
          },
        ],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        [
          'message_delta',
          {
            type: 'message_delta',
            delta: { stop_reason: 'tool_use', stop_sequence: null },
            usage: { output_tokens: 12 },
          },
        ],
        ['message_stop', { type: 'message_stop' }],
      ]),
  },
  google: {
    text: (response) =>
      sendJson(response, 200, {
        candidates: [
          {
            content: { role: 'model', parts: [{ text: 'Hello from Gemini format' }] },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 5, totalTokenCount: 14 },
        modelVersion: 'gemini-1.5-pro',
      }),
    toolStream: (response) =>
      writeSse(response, [
        [
          undefined,
          {
            candidates: [
              {
                content: {
                  role: 'model',
                  parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }],
                },
                index: 0,
              },
            ],
            usageMetadata: { promptTokenCount: 20, totalTokenCount: 20 },
          },
        ],
        [
          undefined,
          {
            candidates: [
              { content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 },
            ],
            usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 8, totalTokenCount: 28 },
          },
        ],
      ]),
  },
};

for (const [provider, format] of Object.entries(formats)) {
  describe(`${provider} adapter end to end with the openai client`, () => {
    let upstream: FakeUpstream;
    let gateway: Awaited<ReturnType<typeof startTestGateway>>;
    before(async () => {
      upstream = await startFakeUpstream((request: RecordedRequest, response) => {
        const body = request.json as { stream?: boolean; tools?: unknown[] } | undefined;
        const streaming = body?.stream === true || request.path.includes('streamGenerateContent');
        if (streaming) format.toolStream(response);
        else format.text(response);
      });
      gateway = await startTestGateway({
        models: {
          upstream: {
            provider: provider as 'openai',
            base_url: provider === 'openai' ? `${upstream.url}/v1` : upstream.url,
            api_key: 'sk-e2e-secret',
            model: provider === 'google' ? 'gemini-pro' : 'some-model',
            capabilities: ['tools', 'streaming', 'json'],
          },
        },
      });
    });
    after(async () => {
      await gateway.close();
      await upstream.close();
    });

    it('non-streaming text', async () => {
      const completion = await gateway.client.chat.completions.create({
        model: 'upstream',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.match(completion.choices[0]?.message.content ?? '', /^Hello from/);
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.equal(completion.usage?.prompt_tokens, 9);
      assert.equal(completion.usage?.completion_tokens, 5);
      assert.equal(completion.model, 'upstream');
    });

    it('a streamed tool call arrives as OpenAI tool_call deltas', async () => {
      const stream = await gateway.client.chat.completions.create({
        model: 'upstream',
        stream: true,
        tools: [weatherTool],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      });
      const calls = new Map<number, { id?: string; name?: string; args: string }>();
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const choice of chunk.choices) {
          for (const delta of choice.delta.tool_calls ?? []) {
            const call = calls.get(delta.index) ?? { args: '' };
            call.id ??= delta.id;
            call.name ??= delta.function?.name;
            call.args += delta.function?.arguments ?? '';
            calls.set(delta.index, call);
          }
          finish = choice.finish_reason ?? finish;
        }
      }
      assert.equal(calls.size, 1);
      const call = calls.get(0)!;
      assert.equal(call.name, 'get_weather');
      assert.ok(call.id, 'tool call id');
      assert.deepEqual(JSON.parse(call.args), { city: 'Paris' });
      assert.equal(finish, 'tool_calls');
      // The upstream saw the tool declared in its own format.
      const sent = upstream.requests.at(-1)!;
      assert.match(sent.body, /get_weather/);
      assert.doesNotMatch(sent.path, /sk-e2e-secret/, 'the key never travels in the URL');
    });
  });
}
