/**
 * The Anthropic adapter against a fake Anthropic upstream that speaks the Messages API wire
 * format: JSON bodies, named SSE events, `{"type":"error",...}` error bodies and real statuses.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ModelSpec } from '../../src/config/model-spec.ts';
import { UpstreamError } from '../../src/errors.ts';
import { toAnthropicRequest } from '../../src/providers/anthropic/convert-request.ts';
import { finishReasonFor } from '../../src/providers/anthropic/convert-response.ts';
import { messagesUrl } from '../../src/providers/anthropic/index.ts';
import { createHttpClient, type HttpClient } from '../../src/providers/http.ts';
import type { ModelClient } from '../../src/providers/types.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../src/types/openai.ts';
import { guardedClient } from '../helpers/client.ts';
import { type FakeUpstream, sendJson, startFakeUpstream, writeSse } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

const apiKey = 'sk-ant-test-SECRET-0123456789';
const pngData =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let fake: FakeUpstream;
let http: HttpClient;

function client(overrides: Partial<ModelSpec> = {}): ModelClient {
  return guardedClient(
    makeSpec({
      name: 'claude-fast',
      provider: 'anthropic',
      baseUrl: fake.url,
      apiKey,
      upstreamModel: 'claude-sonnet-4-5',
      ...overrides,
    }),
    { http, clock: systemClock, nowSeconds: () => 1_700_000_000, newId: (p) => p + '-1' },
  );
}

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'claude-fast', messages: [{ role: 'user', content: 'Hi' }], ...overrides };
}

function message(overrides: Record<string, unknown> = {}) {
  return {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [{ type: 'text', text: 'Hello!' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    ...overrides,
  };
}

function anthropicError(type: string, messageText: string) {
  return { type: 'error', error: { type, message: messageText }, request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy' };
}

const messageStart = (usage: Record<string, number> = { input_tokens: 25, output_tokens: 1 }) =>
  [
    'message_start',
    {
      type: 'message_start',
      message: {
        id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-sonnet-4-5-20250929',
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    },
  ] as [string, unknown];

const textDelta = (index: number, text: string) =>
  ['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } }] as [
    string,
    unknown,
  ];
const blockStop = (index: number) =>
  ['content_block_stop', { type: 'content_block_stop', index }] as [string, unknown];
const messageDelta = (stopReason: string, outputTokens: number) =>
  [
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    },
  ] as [string, unknown];
const messageStop: [string, unknown] = ['message_stop', { type: 'message_stop' }];

/** Drain a stream; return what arrived before any error, and the error. */
async function drain(chunks: AsyncIterable<ChatCompletionChunk>) {
  const received: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of chunks) received.push(chunk);
  } catch (error) {
    return { received, error };
  }
  return { received, error: undefined };
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  fake = await startFakeUpstream((_request, response) => sendJson(response, 200, message()));
  http = createHttpClient();
});

after(async () => {
  await http.close();
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.setHandler((_request, response) => sendJson(response, 200, message()));
});

describe('anthropic request conversion', () => {
  test('sends the Messages API body and headers', async () => {
    await client().chat(
      request({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these images?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${pngData}` } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
            ],
          },
          {
            role: 'assistant',
            content: 'Let me check.',
            tool_calls: [
              { id: 'toolu_01', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } },
              { id: 'toolu_02', type: 'function', function: { name: 'lookup', arguments: '{not json' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_01', content: 'a cat' },
          { role: 'tool', tool_call_id: 'toolu_02', content: [{ type: 'text', text: 'error' }] },
          { role: 'user', content: 'Thanks. And?' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'lookup',
              description: 'Look something up',
              parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
            },
          },
          { type: 'function', function: { name: 'now' } },
        ],
        tool_choice: 'required',
        temperature: 0.2,
        top_p: 0.9,
        stop: 'END',
        user: 'user-42',
      }),
      callOptions(),
    );

    assert.equal(fake.requests.length, 1);
    const sent = fake.requests[0]!;
    assert.equal(sent.method, 'POST');
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], apiKey);
    assert.equal(sent.headers['anthropic-version'], '2023-06-01');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.equal(sent.headers.authorization, undefined);
    assert.deepEqual(sent.json, {
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: 'You are terse.\n\nAnswer in English.',
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'user-42' },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these images?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_01', name: 'lookup', input: { q: 'cat' } },
            { type: 'tool_use', id: 'toolu_02', name: 'lookup', input: { _raw_arguments: '{not json' } },
          ],
        },
        {
          // Both tool results and the following user text share one user turn, results first.
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: 'a cat' },
            { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: 'error' }] },
            { type: 'text', text: 'Thanks. And?' },
          ],
        },
      ],
      tools: [
        {
          name: 'lookup',
          description: 'Look something up',
          input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
        },
        { name: 'now', input_schema: { type: 'object', properties: {} } },
      ],
      tool_choice: { type: 'any' },
    });
  });

  test('max_tokens prefers max_completion_tokens, then max_tokens, then the spec default', () => {
    const spec = makeSpec({ provider: 'anthropic', maxOutputTokens: 1234 });
    assert.equal(toAnthropicRequest(request(), spec, false).max_tokens, 1234);
    assert.equal(toAnthropicRequest(request({ max_tokens: 50 }), spec, false).max_tokens, 50);
    assert.equal(
      toAnthropicRequest(request({ max_tokens: 50, max_completion_tokens: 70 }), spec, false).max_tokens,
      70,
    );
    assert.equal(toAnthropicRequest(request(), spec, false).stream, undefined);
    assert.equal(toAnthropicRequest(request(), spec, true).stream, true);
  });

  test('tool_choice, parallel_tool_calls and stop arrays map to Anthropic fields', () => {
    const spec = makeSpec({ provider: 'anthropic' });
    const tools: ChatRequest['tools'] = [{ type: 'function', function: { name: 'f' } }];
    const choice = (overrides: Partial<ChatRequest>) =>
      toAnthropicRequest(request({ tools, ...overrides }), spec, false).tool_choice;
    assert.deepEqual(choice({ tool_choice: 'auto' }), { type: 'auto' });
    assert.deepEqual(choice({ tool_choice: 'none' }), { type: 'none' });
    assert.deepEqual(choice({ tool_choice: 'required' }), { type: 'any' });
    assert.deepEqual(choice({ tool_choice: { type: 'function', function: { name: 'f' } } }), {
      type: 'tool',
      name: 'f',
    });
    assert.equal(choice({}), undefined);
    assert.deepEqual(choice({ parallel_tool_calls: false }), {
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    // No tools: no tool_choice either (Anthropic rejects a choice without tools).
    assert.equal(toAnthropicRequest(request({ tool_choice: 'auto' }), spec, false).tool_choice, undefined);
    assert.deepEqual(toAnthropicRequest(request({ stop: ['a', 'b'] }), spec, false).stop_sequences, [
      'a',
      'b',
    ]);
  });

  test('a trailing assistant message stays last as a prefill; same-role turns merge', () => {
    const body = toAnthropicRequest(
      request({
        messages: [
          { role: 'user', content: 'One' },
          { role: 'user', content: 'Two' },
          { role: 'assistant', content: '{"answer": ' },
        ],
      }),
      makeSpec({ provider: 'anthropic' }),
      false,
    );
    assert.deepEqual(body.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'One' },
          { type: 'text', text: 'Two' },
        ],
      },
      // Anthropic rejects a final assistant turn ending in whitespace, so it is trimmed.
      { role: 'assistant', content: [{ type: 'text', text: '{"answer":' }] },
    ]);
  });

  test('unsupported content parts fail as invalid_request before any call', async () => {
    const error = await rejection(
      client().chat(
        request({
          messages: [
            { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] },
          ],
        }),
        callOptions(),
      ),
    );
    assert.equal(error.kind, 'invalid_request');
    assert.equal(fake.requests.length, 0);
  });

  test('base URLs: a path prefix gets /v1/messages, a /v1 base gets /messages, headers may override', async () => {
    assert.equal(messagesUrl(undefined), 'https://api.anthropic.com/v1/messages');
    assert.equal(messagesUrl('https://api.302.ai/anthropic'), 'https://api.302.ai/anthropic/v1/messages');
    assert.equal(messagesUrl('https://proxy.example/v1/'), 'https://proxy.example/v1/messages');

    await client({ baseUrl: `${fake.url}/anthropic/` }).chat(request(), callOptions());
    await client({
      baseUrl: `${fake.url}/v1`,
      headers: { 'anthropic-version': '2024-01-01', 'anthropic-beta': 'prompt-caching-2024-07-31' },
    }).chat(request(), callOptions());
    assert.equal(fake.requests[0]!.path, '/anthropic/v1/messages');
    assert.equal(fake.requests[1]!.path, '/v1/messages');
    assert.equal(fake.requests[1]!.headers['anthropic-version'], '2024-01-01');
    assert.equal(fake.requests[1]!.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
  });

  test("a Messages client's anthropic-beta flags reach the upstream, after the configured ones", async () => {
    const withBetas = request({ anthropic: { betas: ['interleaved-thinking-2025-05-14'] } });
    await client().chat(withBetas, callOptions());
    await client({ headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } }).chat(
      withBetas,
      callOptions(),
    );
    await client().chat(request(), callOptions());
    assert.equal(fake.requests[0]!.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14');
    assert.equal(
      fake.requests[1]!.headers['anthropic-beta'],
      'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14',
    );
    assert.equal(fake.requests[2]!.headers['anthropic-beta'], undefined);
  });
});

describe('anthropic non-streaming responses', () => {
  test('text response becomes a chat.completion with usage including cache tokens', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        200,
        message({
          content: [
            { type: 'text', text: 'Hello' },
            { type: 'text', text: ', world' },
          ],
          usage: {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: 3,
            cache_read_input_tokens: 2,
          },
        }),
        { 'anthropic-ratelimit-requests-remaining': '99', 'request-id': 'req_1' },
      ),
    );
    const { completion, meta } = await client().chat(request(), callOptions());
    assert.equal(completion.id, 'msg_01XFDUDYJgAACzvnptvVoYEL');
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'claude-fast');
    assert.equal(completion.created, 1_700_000_000);
    assert.deepEqual(completion.choices[0]!.message, { role: 'assistant', content: 'Hello, world' });
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.equal(completion.usage!.prompt_tokens, 15);
    assert.equal(completion.usage!.completion_tokens, 5);
    assert.equal(completion.usage!.total_tokens, 20);
    assert.equal(meta.status, 200);
    assert.equal(meta.budget.remainingRequests, 99);
  });

  test('tool_use blocks become tool_calls with JSON arguments', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        200,
        message({
          content: [
            { type: 'text', text: 'Checking the weather.' },
            {
              type: 'tool_use',
              id: 'toolu_01A09q90qw90lq917835lq9',
              name: 'get_weather',
              input: { city: 'Paris' },
            },
          ],
          stop_reason: 'tool_use',
        }),
      ),
    );
    const { completion } = await client().chat(request(), callOptions());
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, 'Checking the weather.');
    assert.deepEqual(choice.message.tool_calls, [
      {
        id: 'toolu_01A09q90qw90lq917835lq9',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
  });

  test('a tool-only turn has null content', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        200,
        message({
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'now', input: {} }],
          stop_reason: 'tool_use',
        }),
      ),
    );
    const { completion } = await client().chat(request(), callOptions());
    assert.equal(completion.choices[0]!.message.content, null);
    assert.equal(completion.choices[0]!.message.tool_calls![0]!.function.arguments, '{}');
  });

  test('stop reasons map to OpenAI finish reasons', async () => {
    assert.equal(finishReasonFor('end_turn'), 'stop');
    assert.equal(finishReasonFor('stop_sequence'), 'stop');
    assert.equal(finishReasonFor('pause_turn'), 'stop');
    assert.equal(finishReasonFor('max_tokens'), 'length');
    assert.equal(finishReasonFor('tool_use'), 'tool_calls');
    assert.equal(finishReasonFor('refusal'), 'content_filter');

    fake.setHandler((_request, response) =>
      sendJson(response, 200, message({ stop_reason: 'max_tokens', stop_sequence: null })),
    );
    const { completion } = await client().chat(request(), callOptions());
    assert.equal(completion.choices[0]!.finish_reason, 'length');
  });
});

describe('anthropic errors', () => {
  test('529 overloaded is a server failure', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 529, anthropicError('overloaded_error', 'Overloaded')),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'server');
    assert.equal(error.status, 529);
    assert.equal(error.upstreamCode, 'overloaded_error');
    assert.equal(error.model, 'claude-fast');
    assert.doesNotMatch(
      error.message,
      /Overloaded/,
      "a 5xx keeps Anthropic's words out of the client's message",
    );
    assert.equal(error.detail, 'Overloaded', 'and keeps them for the logs');
  });

  test('429 with retry-after is rate_limited with retryAfterMs', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        429,
        anthropicError('rate_limit_error', 'Number of request tokens has exceeded your rate limit'),
        {
          'retry-after': '7',
          'anthropic-ratelimit-tokens-remaining': '0',
        },
      ),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'rate_limited');
    assert.equal(error.retryAfterMs, 7000);
    assert.equal(error.upstreamCode, 'rate_limit_error');
  });

  test('401 is auth and the api key appears nowhere in the error', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 401, anthropicError('authentication_error', 'invalid x-api-key')),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'auth');
    assert.ok(!error.message.includes(apiKey));
    assert.ok(!JSON.stringify({ ...error, message: error.message }).includes(apiKey));

    // Even a proxy that echoes the key back cannot leak it through our message.
    fake.setHandler((request, response) =>
      sendJson(
        response,
        401,
        anthropicError('authentication_error', `bad key ${request.headers['x-api-key']}`),
      ),
    );
    const echoed = await rejection(client().chat(request(), callOptions()));
    assert.equal(echoed.kind, 'auth');
    assert.ok(!echoed.message.includes(apiKey), echoed.message);
  });

  test('a prompt-too-long 400 is context_length', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        400,
        anthropicError('invalid_request_error', 'prompt is too long: 208310 tokens > 200000 maximum'),
      ),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'context_length');
    assert.equal(error.status, 400);
  });

  test('an ordinary 400 is invalid_request', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 400, anthropicError('invalid_request_error', 'max_tokens: Field required')),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'invalid_request');
  });

  test('an HTML 502 from a proxy is a classified error, not a crash', async () => {
    fake.setHandler((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'server');
    assert.equal(error.status, 502);
  });

  test('a truncated JSON 200 body is bad_response', async () => {
    fake.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"id":"msg_1","type":"message","content":[{"type":"te');
    });
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'bad_response');
  });

  test('a 200 JSON body that is not a message is bad_response', async () => {
    fake.setHandler((_request, response) => sendJson(response, 200, { hello: 'world' }));
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'bad_response');
  });

  test('a 200 carrying an Anthropic error body is classified by its error type', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, anthropicError('overloaded_error', 'Overloaded')),
    );
    const error = await rejection(client().chat(request(), callOptions()));
    assert.equal(error.kind, 'server');
    assert.equal(error.upstreamCode, 'overloaded_error');
  });
});

describe('anthropic JSON answers (response_format)', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

  test('json_schema becomes a forced tool whose input is the answer text', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'switchyard_json_answer', input: { city: 'Lisbon' } },
        ],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 5 },
      }),
    );
    const { completion } = await client().chat(
      request({ response_format: { type: 'json_schema', json_schema: { name: 'place', schema } } }),
      callOptions(),
    );
    const sent = fake.requests.at(-1)!.json as {
      tools: Array<{ name: string; input_schema: unknown }>;
      tool_choice: unknown;
    };
    assert.deepEqual(
      sent.tools.map((tool) => tool.name),
      ['switchyard_json_answer'],
    );
    assert.deepEqual(sent.tools[0]!.input_schema, schema);
    assert.deepEqual(sent.tool_choice, { type: 'tool', name: 'switchyard_json_answer' });
    assert.deepEqual(JSON.parse(completion.choices[0]!.message.content!), { city: 'Lisbon' });
    assert.equal(completion.choices[0]!.message.tool_calls, undefined, 'the client never sees the tool');
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
  });

  test('json_object streams the forced tool input as text', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [
        messageStart(),
        [
          'content_block_start',
          {
            type: 'content_block_start',
            index: 0,
            content_block: { type: 'tool_use', id: 'toolu_1', name: 'switchyard_json_answer', input: {} },
          },
        ],
        [
          'content_block_delta',
          {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: '{"ok": ' },
          },
        ],
        [
          'content_block_delta',
          {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: 'true}' },
          },
        ],
        blockStop(0),
        messageDelta('tool_use', 5),
        messageStop,
      ]),
    );
    const result = await client().stream(
      request({ stream: true, response_format: { type: 'json_object' } }),
      callOptions(),
    );
    const { received, error } = await drain(result.chunks);
    assert.equal(error, undefined);
    const text = received.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.deepEqual(JSON.parse(text), { ok: true });
    assert.ok(received.every((chunk) => !chunk.choices[0]?.delta.tool_calls));
    assert.equal(
      received.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason,
      'stop',
    );
    const sent = fake.requests.at(-1)!.json as { tools: Array<{ input_schema: unknown }> };
    assert.deepEqual(sent.tools[0]!.input_schema, { type: 'object' });
  });

  test("with the client's own tools, an instruction asks for JSON instead", async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [{ type: 'text', text: '{}' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 5 },
      }),
    );
    await client().chat(
      request({
        response_format: { type: 'json_object' },
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      }),
      callOptions(),
    );
    const sent = fake.requests.at(-1)!.json as { tools: Array<{ name: string }>; system: string };
    assert.deepEqual(
      sent.tools.map((tool) => tool.name),
      ['lookup'],
    );
    assert.match(JSON.stringify(sent.system), /single JSON object/);
  });
});

describe('anthropic streaming', () => {
  test('streams text as OpenAI chunks, ending with finish_reason and a usage chunk', async () => {
    fake.setHandler((_request, response) =>
      writeSse(
        response,
        [
          messageStart({ input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 5 }),
          [
            'content_block_start',
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          ],
          ['ping', { type: 'ping' }],
          textDelta(0, 'Hello'),
          textDelta(0, '!'),
          blockStop(0),
          messageDelta('end_turn', 15),
          messageStop,
        ],
        { headers: { 'anthropic-ratelimit-requests-remaining': '5' } },
      ),
    );
    const result = await client().stream(request({ stream: true }), callOptions());
    assert.equal(result.meta.status, 200);
    assert.equal(result.meta.budget.remainingRequests, 5);
    const { received, error } = await drain(result.chunks);
    assert.equal(error, undefined);

    const sent = fake.requests[0]!;
    assert.equal((sent.json as { stream?: boolean }).stream, true);
    assert.equal(sent.headers.accept, 'text/event-stream');

    assert.ok(received.every((chunk) => chunk.id === 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY'));
    assert.ok(received.every((chunk) => chunk.model === 'claude-fast' && chunk.created === 1_700_000_000));
    assert.ok(received.every((chunk) => chunk.object === 'chat.completion.chunk'));
    assert.deepEqual(received[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
    const text = received.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Hello!');
    const finishes = received.filter((chunk) => chunk.choices[0]?.finish_reason);
    assert.equal(finishes.length, 1);
    assert.equal(finishes[0]!.choices[0]!.finish_reason, 'stop');
    const last = received[received.length - 1]!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage!.prompt_tokens, 30);
    assert.equal(last.usage!.completion_tokens, 15);
    assert.equal(last.usage!.total_tokens, 45);
  });

  test('a streamed tool call reassembles input_json_delta pieces into valid arguments', async () => {
    const json = (index: number, partial: string) =>
      [
        'content_block_delta',
        { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } },
      ] as [string, unknown];
    fake.setHandler((_request, response) =>
      writeSse(response, [
        messageStart(),
        [
          'content_block_start',
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        ],
        textDelta(0, 'Let me look.'),
        blockStop(0),
        [
          'content_block_start',
          {
            type: 'content_block_start',
            index: 1,
            content_block: {
              type: 'tool_use',
              id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
              name: 'get_weather',
              input: {},
            },
          },
        ],
        json(1, ''),
        json(1, '{"location": "San Fra'),
        json(1, 'ncisco, CA", "unit'),
        json(1, '": "fahrenheit"}'),
        blockStop(1),
        [
          'content_block_start',
          {
            type: 'content_block_start',
            index: 2,
            content_block: { type: 'tool_use', id: 'toolu_02', name: 'now', input: {} },
          },
        ],
        json(2, ''),
        blockStop(2),
        messageDelta('tool_use', 89),
        messageStop,
      ]),
    );
    const result = await client().stream(request({ stream: true }), callOptions());
    const { received, error } = await drain(result.chunks);
    assert.equal(error, undefined);

    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const chunk of received) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { arguments: '' };
        if (delta.id) call.id = delta.id;
        if (delta.function?.name) call.name = delta.function.name;
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    assert.deepEqual([...calls.keys()], [0, 1]);
    assert.equal(calls.get(0)!.id, 'toolu_01T1x1fJ34qAmk2tNTrN7Up6');
    assert.equal(calls.get(0)!.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls.get(0)!.arguments), {
      location: 'San Francisco, CA',
      unit: 'fahrenheit',
    });
    // A tool with no input still yields parseable arguments.
    assert.equal(calls.get(1)!.name, 'now');
    assert.deepEqual(JSON.parse(calls.get(1)!.arguments), {});
    const finish = received.find((chunk) => chunk.choices[0]?.finish_reason);
    assert.equal(finish!.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(received[received.length - 1]!.usage!.completion_tokens, 89);
  });

  test('a max_tokens stop streams finish_reason length', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [
        messageStart(),
        textDelta(0, 'Once upon'),
        messageDelta('max_tokens', 2),
        messageStop,
      ]),
    );
    const { received } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.equal(
      received.find((chunk) => chunk.choices[0]?.finish_reason)!.choices[0]!.finish_reason,
      'length',
    );
  });

  test('an error event mid-stream throws a classified UpstreamError', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [
        messageStart(),
        textDelta(0, 'Partial'),
        ['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
      ]),
    );
    const { received, error } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.ok(received.some((chunk) => chunk.choices[0]?.delta.content === 'Partial'));
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.kind, 'server');
    assert.equal(error.upstreamCode, 'overloaded_error');
  });

  test('a rate_limit_error event is rate_limited', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [
        ['error', { type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } }],
      ]),
    );
    const { error } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.kind, 'rate_limited');
  });

  test('a stream that ends without message_stop throws instead of looking complete', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [messageStart(), textDelta(0, 'Half a sen'), messageDelta('end_turn', 3)]),
    );
    const { received, error } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.ok(error instanceof UpstreamError);
    assert.match(error.message, /message_stop/);
    assert.ok(['bad_response', 'network'].includes(error.kind));
    assert.ok(received.every((chunk) => chunk.usage === undefined));
  });

  test('a connection dropped mid-stream throws an UpstreamError', async () => {
    fake.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`event: message_start\ndata: ${JSON.stringify(messageStart()[1])}\n\n`);
      response.write(
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_d',
      );
      setTimeout(() => response.destroy(), 20);
    });
    const { error } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.kind, 'network', error.message);
  });

  test('a malformed event is skipped, not fatal', async () => {
    fake.setHandler((_request, response) =>
      writeSse(response, [
        messageStart(),
        ['content_block_delta', '{"type":"content_block_delta","index":0,"delta":{'],
        textDelta(0, 'ok'),
        messageDelta('end_turn', 1),
        messageStop,
      ]),
    );
    const { received, error } = await drain((await client().stream(request(), callOptions())).chunks);
    assert.equal(error, undefined);
    assert.equal(received.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''), 'ok');
  });

  test('a non-2xx answer to a stream request rejects stream() itself', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        400,
        anthropicError('invalid_request_error', 'prompt is too long: 300000 tokens > 200000'),
      ),
    );
    const error = await rejection(client().stream(request(), callOptions()));
    assert.equal(error.kind, 'context_length');
  });
});
