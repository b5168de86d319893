import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ModelSpec } from '../../src/config/model-spec.ts';
import { UpstreamError } from '../../src/errors.ts';
import { toGeminiRequest } from '../../src/providers/google/convert-request.ts';
import { geminiUrl } from '../../src/providers/google/index.ts';
import { createHttpClient, type HttpClient } from '../../src/providers/http.ts';
import type { ModelClient } from '../../src/providers/types.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../src/types/openai.ts';
import { guardedClient } from '../helpers/client.ts';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

const KEY = 'AIza-test-secret-key-123';

let fake: FakeUpstream;
let http: HttpClient;
let client: ModelClient;
let n = 0;

function makeClient(overrides: Partial<ModelSpec> = {}): ModelClient {
  return guardedClient(
    makeSpec({
      name: 'gem',
      provider: 'google',
      baseUrl: fake.url,
      upstreamModel: 'gemini-pro',
      apiKey: KEY,
      ...overrides,
    }),
    {
      http,
      clock: systemClock,
      nowSeconds: () => Math.floor(Date.now() / 1000),
      newId: (prefix) => `${prefix}-${++n}`,
    },
  );
}

const hello: ChatRequest = { model: 'gem', messages: [{ role: 'user', content: 'Hi' }] };

/** Gemini's SSE framing: `data: <json>` events separated by CRLF CRLF, no [DONE]. */
function writeGeminiSse(response: ServerResponse, chunks: Array<unknown>, tail = ''): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const chunk of chunks) {
    response.write(`data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\r\n\r\n`);
  }
  response.end(tail);
}

function textChunk(text: string, extra: Record<string, unknown> = {}) {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0, ...extra }],
    modelVersion: 'gemini-pro',
    responseId: 'resp-1',
  };
}

async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
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

function errorBody(code: number, status: string, message: string, details?: unknown[]) {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}

before(async () => {
  fake = await startFakeUpstream((_request, response) => sendJson(response, 500, {}));
  http = createHttpClient();
});

after(async () => {
  await http.close();
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  client = makeClient();
});

describe('google provider: request on the wire', () => {
  it('posts to :generateContent with the key in x-goog-api-key and a native Gemini body', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, textChunk('ok', { finishReason: 'STOP' })),
    );
    const client2 = makeClient({ headers: { 'x-extra': 'yes' } });
    await client2.chat(
      {
        model: 'gem',
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'developer', content: [{ type: 'text', text: 'Use metric.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=large' } },
              { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
            ],
          },
          { role: 'user', content: 'And the weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'call_b', content: '14:00' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          },
          { type: 'function', function: { name: 'get_time' } },
        ],
        tool_choice: 'required',
        max_tokens: 100,
        max_completion_tokens: 200,
        temperature: 0.2,
        top_p: 0.9,
        stop: ['END'],
        n: 1,
        response_format: { type: 'json_object' },
      },
      callOptions(),
    );

    const recorded = fake.requests[0]!;
    assert.equal(recorded.method, 'POST');
    assert.equal(recorded.path, '/v1beta/models/gemini-pro:generateContent');
    assert.equal(recorded.headers['x-goog-api-key'], KEY);
    assert.equal(recorded.headers['x-extra'], 'yes');
    assert.match(String(recorded.headers['content-type']), /application\/json/);
    assert.ok(!recorded.path.includes(KEY), 'key must never be in the URL');

    assert.deepEqual(recorded.json, {
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'What is in these?' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
            { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=large' } },
            { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/photo' } },
            { text: 'And the weather?' },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'get_time', args: { tz: 'CET' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
            { functionResponse: { name: 'get_time', response: { content: '14:00' } } },
          ],
        },
      ],
      systemInstruction: { parts: [{ text: 'Be terse.' }, { text: 'Use metric.' }] },
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
            { name: 'get_time' },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      generationConfig: {
        maxOutputTokens: 200,
        temperature: 0.2,
        topP: 0.9,
        stopSequences: ['END'],
        candidateCount: 1,
        responseMimeType: 'application/json',
      },
    });
  });

  it('maps tool_choice and json_schema response_format', () => {
    const base: ChatRequest = {
      model: 'gem',
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    };
    const mode = (choice: ChatRequest['tool_choice']) =>
      toGeminiRequest({ ...base, tool_choice: choice }).toolConfig?.functionCallingConfig;
    assert.deepEqual(mode('auto'), { mode: 'AUTO' });
    assert.deepEqual(mode('none'), { mode: 'NONE' });
    assert.deepEqual(mode({ type: 'function', function: { name: 'f' } }), {
      mode: 'ANY',
      allowedFunctionNames: ['f'],
    });
    assert.equal(mode(undefined), undefined);

    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    const body = toGeminiRequest({
      model: 'gem',
      messages: [{ role: 'user', content: 'x' }],
      stop: 'STOP',
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema } },
    });
    assert.deepEqual(body.generationConfig, {
      stopSequences: ['STOP'],
      responseMimeType: 'application/json',
      responseSchema: schema,
    });
    assert.equal(body.systemInstruction, undefined);
    assert.equal(body.tools, undefined);
  });

  it('rejects a tool result whose call id is unknown, as invalid_request', () => {
    assert.throws(
      () =>
        toGeminiRequest({ model: 'gem', messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }),
      (error: unknown) => error instanceof UpstreamError && error.kind === 'invalid_request',
    );
  });

  it('sends the thought-signature sentinel on replayed calls only for Gemini 3+', () => {
    const request: ChatRequest = {
      model: 'gem',
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
      ],
    };
    const call = (thoughtSignatureSentinel: boolean) =>
      toGeminiRequest(request, { thoughtSignatureSentinel }).contents[1]!.parts[0]!;
    assert.equal(call(true).thoughtSignature, 'skip_thought_signature_validator');
    assert.equal(call(false).thoughtSignature, undefined);
  });

  it('keeps a version segment already in the base URL', async () => {
    assert.equal(
      geminiUrl('https://api.302.ai/gemini/v1beta/', 'gemini-pro', 'generateContent'),
      'https://api.302.ai/gemini/v1beta/models/gemini-pro:generateContent',
    );
    assert.equal(
      geminiUrl('https://proxy.example/v1', 'gemini-pro', 'generateContent'),
      'https://proxy.example/v1/models/gemini-pro:generateContent',
    );
    assert.equal(
      geminiUrl(undefined, 'gemini-pro', 'generateContent'),
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent',
    );
    fake.setHandler((_request, response) =>
      sendJson(response, 200, textChunk('ok', { finishReason: 'STOP' })),
    );
    await makeClient({ baseUrl: `${fake.url}/gemini/v1beta` }).chat(hello, callOptions());
    assert.equal(fake.requests[0]!.path, '/gemini/v1beta/models/gemini-pro:generateContent');
  });
});

describe('google provider: non-streaming responses', () => {
  it('converts text (skipping thought parts), finish reason and usage', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        candidates: [
          {
            content: {
              parts: [
                { text: 'Let me think about it', thought: true },
                { text: 'Hello' },
                { text: ', world' },
              ],
              role: 'model',
            },
            finishReason: 'STOP',
            index: 0,
            safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }],
          },
        ],
        usageMetadata: {
          promptTokenCount: 10,
          candidatesTokenCount: 4,
          thoughtsTokenCount: 6,
          totalTokenCount: 20,
          promptTokensDetails: [{ modality: 'TEXT', tokenCount: 10 }],
        },
        modelVersion: 'gemini-pro',
        responseId: 'abc123',
      }),
    );
    const { completion, meta } = await client.chat(hello, callOptions());
    assert.equal(meta.status, 200);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'gem');
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.choices.length, 1);
    assert.deepEqual(completion.choices[0]!.message, { role: 'assistant', content: 'Hello, world' });
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.equal(completion.usage!.prompt_tokens, 10);
    assert.equal(completion.usage!.completion_tokens, 10);
    assert.equal(completion.usage!.total_tokens, 20);
    assert.deepEqual(completion.usage!.completion_tokens_details, { reasoning_tokens: 6 });
  });

  it('converts a function call into tool_calls', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        candidates: [
          {
            content: {
              parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris', days: 2 } } }],
              role: 'model',
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 8, totalTokenCount: 38 },
      }),
    );
    const { completion } = await client.chat(hello, callOptions());
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls!.length, 1);
    const call = choice.message.tool_calls![0]!;
    assert.match(call.id, /^call-/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', days: 2 });
  });

  for (const [reason, expected] of [
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['OTHER', 'stop'],
  ] as const) {
    it(`maps finishReason ${reason} with content to ${expected}`, async () => {
      fake.setHandler((_request, response) =>
        sendJson(response, 200, textChunk('partial', { finishReason: reason })),
      );
      const { completion } = await client.chat(hello, callOptions());
      assert.equal(completion.choices[0]!.finish_reason, expected);
      assert.equal(completion.choices[0]!.message.content, 'partial');
    });
  }

  it('turns a blocked prompt into content_policy naming the block reason', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        promptFeedback: {
          blockReason: 'SAFETY',
          safetyRatings: [
            { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
            { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
          ],
        },
        usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
      }),
    );
    const error = await rejection(client.chat(hello, callOptions()));
    assert.equal(error.kind, 'content_policy');
    assert.match(error.message, /blocked the prompt/);
    assert.match(error.message, /blockReason SAFETY/);
    assert.match(error.message, /HARM_CATEGORY_DANGEROUS_CONTENT/);
    assert.doesNotMatch(error.message, /HARASSMENT/);
  });

  it('turns a SAFETY finish with no content into content_policy', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 200, {
        candidates: [
          {
            finishReason: 'SAFETY',
            index: 0,
            safetyRatings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'HIGH', blocked: true }],
          },
        ],
      }),
    );
    const error = await rejection(client.chat(hello, callOptions()));
    assert.equal(error.kind, 'content_policy');
    assert.match(error.message, /finishReason SAFETY/);
  });

  it('treats HTML and truncated JSON bodies as bad_response', async () => {
    fake.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>Bad gateway</body></html>');
    });
    const html = await rejection(client.chat(hello, callOptions()));
    assert.equal(html.kind, 'bad_response');
    assert.match(html.message, /HTML/);

    fake.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"candidates":[{"content":{"parts":[{"text":"Hel');
    });
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'bad_response');

    fake.setHandler((_request, response) => sendJson(response, 200, { candidates: [] }));
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'bad_response');
  });
});

describe('google provider: errors', () => {
  it('maps 429 RESOURCE_EXHAUSTED to rate_limited with Retry-After', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        429,
        errorBody(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'),
        { 'retry-after': '7' },
      ),
    );
    const error = await rejection(client.chat(hello, callOptions()));
    assert.equal(error.kind, 'rate_limited');
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 7000);
    assert.equal(error.upstreamCode, 'RESOURCE_EXHAUSTED');
  });

  it('maps an invalid key (400 API_KEY_INVALID) and 403 to auth, never echoing the key', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        400,
        errorBody(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' },
          },
        ]),
      ),
    );
    const error = await rejection(client.chat(hello, callOptions()));
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /API key not valid/);
    assert.ok(!error.message.includes(KEY));
    assert.ok(!JSON.stringify({ ...error, message: error.message }).includes(KEY));

    // Streaming path classifies the same way.
    const streamError = await rejection(client.stream(hello, callOptions()));
    assert.equal(streamError.kind, 'auth');
    assert.ok(!streamError.message.includes(KEY));

    fake.setHandler((_request, response) =>
      sendJson(
        response,
        403,
        errorBody(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers."),
      ),
    );
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'auth');
  });

  it('redacts the key should the upstream ever echo it', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 400, errorBody(400, 'INVALID_ARGUMENT', `Bad key ${KEY} rejected`)),
    );
    const error = await rejection(client.chat(hello, callOptions()));
    assert.ok(!error.message.includes(KEY));
    assert.match(error.message, /\[redacted\]/);
  });

  it('maps a too-long prompt to context_length and 503 to server', async () => {
    fake.setHandler((_request, response) =>
      sendJson(
        response,
        400,
        errorBody(
          400,
          'INVALID_ARGUMENT',
          'The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).',
        ),
      ),
    );
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'context_length');

    fake.setHandler((_request, response) =>
      sendJson(
        response,
        503,
        errorBody(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
      ),
    );
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'server');

    fake.setHandler((_request, response) =>
      sendJson(response, 400, errorBody(400, 'INVALID_ARGUMENT', 'Invalid value at contents[0].role')),
    );
    assert.equal((await rejection(client.chat(hello, callOptions()))).kind, 'invalid_request');
  });
});

describe('google provider: streaming', () => {
  it('streams text deltas, the finish reason and usage', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [
        textChunk('Hel', { usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } }),
        {
          candidates: [
            { content: { parts: [{ text: 'planning', thought: true }], role: 'model' }, index: 0 },
          ],
        },
        textChunk('lo', {
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1, totalTokenCount: 6 },
        }),
        {
          candidates: [
            { content: { parts: [{ text: '!' }], role: 'model' }, finishReason: 'STOP', index: 0 },
          ],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 3, totalTokenCount: 8 },
          modelVersion: 'gemini-pro',
        },
      ]),
    );
    const { meta, chunks } = await client.stream(hello, callOptions());
    assert.equal(meta.status, 200);
    const all = await collect(chunks);
    const recorded = fake.requests[0]!;
    assert.equal(recorded.path, '/v1beta/models/gemini-pro:streamGenerateContent?alt=sse');
    assert.equal(recorded.headers['x-goog-api-key'], KEY);

    assert.equal(new Set(all.map((chunk) => chunk.id)).size, 1, 'one id per stream');
    assert.ok(all.every((chunk) => chunk.model === 'gem' && chunk.object === 'chat.completion.chunk'));
    assert.deepEqual(all[0]!.choices[0]!.delta, { role: 'assistant', content: 'Hel' });
    const text = all.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Hello!');
    const finishes = all
      .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
      .filter(Boolean);
    assert.deepEqual(finishes, ['stop']);
    const last = all[all.length - 1]!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it('streams a function call as one complete tool_calls delta', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [
        {
          candidates: [
            {
              content: {
                parts: [
                  { functionCall: { name: 'get_weather', args: { city: 'Paris', units: ['c'] } } },
                  { functionCall: { name: 'get_time', args: {} } },
                ],
                role: 'model',
              },
              finishReason: 'STOP',
              index: 0,
            },
          ],
          usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 9, totalTokenCount: 29 },
        },
      ]),
    );
    const all = await collect((await client.stream(hello, callOptions())).chunks);
    const calls = all.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []));
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.index, 0);
    assert.equal(calls[1]!.index, 1);
    assert.match(calls[0]!.id!, /^call-/);
    assert.notEqual(calls[0]!.id, calls[1]!.id);
    assert.equal(calls[0]!.type, 'function');
    assert.equal(calls[0]!.function!.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0]!.function!.arguments!), { city: 'Paris', units: ['c'] });
    assert.deepEqual(JSON.parse(calls[1]!.function!.arguments!), {});
    assert.equal(all[0]!.choices[0]!.delta.role, 'assistant');
    const finishes = all
      .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
      .filter(Boolean);
    assert.deepEqual(finishes, ['tool_calls']);
    assert.equal(all[all.length - 1]!.usage!.total_tokens, 29);
  });

  it('skips a malformed chunk and maps MAX_TOKENS to length', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [
        '{"candidates":[{"content":',
        textChunk('Hi', { finishReason: 'MAX_TOKENS' }),
      ]),
    );
    const all = await collect((await client.stream(hello, callOptions())).chunks);
    assert.equal(all.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''), 'Hi');
    assert.equal(all[all.length - 1]!.choices[0]!.finish_reason, 'length');
  });

  it('throws when the stream ends without a finish reason', async () => {
    fake.setHandler((_request, response) => writeGeminiSse(response, [textChunk('Hel'), textChunk('lo')]));
    const { chunks } = await client.stream(hello, callOptions());
    const seen: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of chunks) seen.push(chunk.choices[0]?.delta.content ?? '');
      })(),
    );
    assert.equal(error.kind, 'bad_response');
    assert.match(error.message, /stream ended before a finish reason/);
    assert.deepEqual(seen, ['Hel', 'lo']);
  });

  it('throws when the connection is cut mid-event', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [textChunk('Hel')], 'data: {"candidates":[{"con'),
    );
    const error = await rejection(collect((await client.stream(hello, callOptions())).chunks));
    assert.equal(error.kind, 'bad_response');
  });

  it('an empty 200 stream is not a complete answer', async () => {
    fake.setHandler((_request, response) => writeGeminiSse(response, []));
    const error = await rejection(collect((await client.stream(hello, callOptions())).chunks));
    assert.equal(error.kind, 'bad_response');
  });

  it('a blocked prompt in the stream is content_policy', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [
        { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 4 } },
      ]),
    );
    const error = await rejection(collect((await client.stream(hello, callOptions())).chunks));
    assert.equal(error.kind, 'content_policy');
    assert.match(error.message, /blockReason PROHIBITED_CONTENT/);
  });

  it('a SAFETY finish before any content is content_policy; after content it is content_filter', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [{ candidates: [{ finishReason: 'SAFETY', index: 0 }] }]),
    );
    const blocked = await rejection(collect((await client.stream(hello, callOptions())).chunks));
    assert.equal(blocked.kind, 'content_policy');

    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [textChunk('Some'), { candidates: [{ finishReason: 'SAFETY', index: 0 }] }]),
    );
    const all = await collect((await client.stream(hello, callOptions())).chunks);
    assert.equal(all[all.length - 1]!.choices[0]!.finish_reason, 'content_filter');
  });

  it('classifies an error object sent inside the stream', async () => {
    fake.setHandler((_request, response) =>
      writeGeminiSse(response, [textChunk('Hel'), errorBody(503, 'UNAVAILABLE', 'The model is overloaded.')]),
    );
    const error = await rejection(collect((await client.stream(hello, callOptions())).chunks));
    assert.equal(error.kind, 'server');
  });

  it('rejects stream() itself on a non-2xx status', async () => {
    fake.setHandler((_request, response) =>
      sendJson(response, 429, errorBody(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.')),
    );
    assert.equal((await rejection(client.stream(hello, callOptions()))).kind, 'rate_limited');
  });
});
