import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpstreamError } from '../../src/errors.ts';
import { createHttpClient } from '../../src/providers/http.ts';
import type { ModelClient } from '../../src/providers/types.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import type { ChatCompletionChunk } from '../../src/types/openai.ts';
import { guardedClient } from '../helpers/client.ts';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

const http = createHttpClient();
let upstream: FakeUpstream;
let client: ModelClient;
const warnings: string[] = [];

async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const all: ChatCompletionChunk[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

const line = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('openai adapter', () => {
  before(async () => {
    upstream = await startFakeUpstream((_request, response) => sendJson(response, 200, {}));
    client = guardedClient(
      makeSpec({
        baseUrl: `${upstream.url}/v1`,
        upstreamModel: 'gpt-4o-2024',
        name: 'gpt-4o',
        headers: { 'OpenAI-Organization': 'org-1' },
      }),
      {
        http,
        clock: systemClock,
        nowSeconds: () => 1,
        newId: (prefix) => `${prefix}-1`,
        warn: (message) => warnings.push(message),
      },
    );
  });
  after(async () => {
    await http.close();
    await upstream.close();
  });

  it('passes unknown fields through, sets the upstream model, asks for stream usage', async () => {
    upstream.setHandler((_request, response) => {
      response.writeHead(200, {
        'content-type': 'text/event-stream',
        'x-ratelimit-remaining-requests': '99',
        authorization: 'x',
      });
      response.end(`${line({ role: 'assistant', content: 'hi' })}${line({}, 'stop')}data: [DONE]\n\n`);
    });
    const result = await client.stream(
      {
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
        seed: 7,
        logit_bias: { '50256': -100 },
      },
      callOptions(),
    );
    const chunks = await collect(result.chunks);
    const sent = upstream.requests.at(-1)!;
    const body = sent.json as Record<string, unknown>;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(body.model, 'gpt-4o-2024');
    assert.equal(body.seed, 7);
    assert.deepEqual(body.logit_bias, { '50256': -100 });
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.equal(sent.headers.authorization, 'Bearer sk-test-secret-key');
    assert.equal(sent.headers['openai-organization'], 'org-1');
    assert.equal(chunks.length, 2);
    assert.equal(chunks[0]?.model, 'gpt-4o', 'model field names the gateway model');
    assert.deepEqual(result.meta.budget, { remainingRequests: 99, remainingTokens: undefined });
  });

  it("never sends the gateway's extension fields (a Messages request's cache_control, thinking, top_k) upstream", async () => {
    upstream.setHandler((_request, response) =>
      sendJson(response, 200, {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      }),
    );
    await client.chat(
      {
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral' } }] },
          {
            role: 'assistant',
            content: 'y',
            thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }],
          },
          { role: 'user', content: 'z' },
        ],
        anthropic: { top_k: 5 },
      },
      callOptions(),
    );
    const body = JSON.stringify(upstream.requests.at(-1)!.json);
    assert.doesNotMatch(body, /cache_control|thinking_blocks|"anthropic"|top_k/);
    assert.match(body, /"text":"x"/);
  });

  it('skips a malformed chunk and goes on', async () => {
    upstream.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        `${line({ content: 'a' })}data: {"broken\n\n${line({ content: 'b' })}${line({}, 'stop')}data: [DONE]\n\n`,
      );
    });
    const chunks = await collect(
      (await client.stream({ model: 'x', messages: [{ role: 'user', content: 'x' }] }, callOptions())).chunks,
    );
    assert.deepEqual(
      chunks.map((chunk) => chunk.choices[0]?.delta.content ?? null),
      ['a', 'b', null],
    );
    assert.deepEqual(warnings, ['gpt-4o sent a malformed stream chunk; skipped'], 'and logged');
  });

  it('a stream without [DONE] but with a finish reason is complete', async () => {
    upstream.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(`${line({ content: 'a' })}${line({}, 'stop')}`);
    });
    const chunks = await collect(
      (await client.stream({ model: 'x', messages: [{ role: 'user', content: 'x' }] }, callOptions())).chunks,
    );
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
  });

  it('a stream cut before any finish reason throws', async () => {
    upstream.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(line({ content: 'a' }));
    });
    const result = await client.stream(
      { model: 'x', messages: [{ role: 'user', content: 'x' }] },
      callOptions(),
    );
    await assert.rejects(
      collect(result.chunks),
      (error: unknown) => error instanceof UpstreamError && error.kind === 'network',
    );
  });

  it('an error object mid-stream throws a classified error', async () => {
    upstream.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        `${line({ content: 'a' })}data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n`,
      );
    });
    const result = await client.stream(
      { model: 'x', messages: [{ role: 'user', content: 'x' }] },
      callOptions(),
    );
    await assert.rejects(
      collect(result.chunks),
      (error: unknown) =>
        error instanceof UpstreamError &&
        error.kind === 'server' &&
        /server had an error/.test(error.detail ?? '') &&
        !/server had an error/.test(error.message),
    );
  });

  for (const [status, kind, body] of [
    [
      429,
      'rate_limited',
      {
        error: {
          message: 'Rate limit reached for requests',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
    ],
    [
      401,
      'auth',
      {
        error: {
          message: 'Incorrect API key provided: sk-test-secret-key.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
    ],
    [
      400,
      'context_length',
      {
        error: {
          message: "This model's maximum context length is 128000 tokens.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      },
    ],
    [
      400,
      'invalid_request',
      {
        error: {
          message: "Invalid type for 'temperature'",
          type: 'invalid_request_error',
          param: 'temperature',
          code: null,
        },
      },
    ],
    [
      404,
      'not_found',
      {
        error: {
          message: 'The model `gpt-5` does not exist',
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_found',
        },
      },
    ],
    [
      500,
      'server',
      {
        error: {
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          param: null,
          code: null,
        },
      },
    ],
    [
      503,
      'server',
      {
        error: {
          message: 'The engine is currently overloaded.',
          type: 'server_error',
          param: null,
          code: null,
        },
      },
    ],
  ] as const) {
    it(`HTTP ${status} -> ${kind}`, async () => {
      upstream.setHandler((_request, response) => sendJson(response, status, body, { 'retry-after': '3' }));
      await assert.rejects(
        client.chat({ model: 'x', messages: [{ role: 'user', content: 'x' }] }, callOptions()),
        (error: unknown) => {
          assert.ok(error instanceof UpstreamError);
          assert.equal(error.kind, kind);
          assert.equal(error.status, status);
          assert.equal(error.retryAfterMs, 3000);
          assert.doesNotMatch(
            error.message,
            /sk-test-secret-key/,
            'an echoed key never reaches our messages',
          );
          return true;
        },
      );
    });
  }

  it('embeddings go to /embeddings with the upstream model', async () => {
    upstream.setHandler((_request, response) =>
      sendJson(response, 200, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
        model: 'text-embedding-3-small',
        usage: { prompt_tokens: 2, total_tokens: 2 },
      }),
    );
    const { response } = await client.embeddings!({ model: 'gpt-4o', input: 'hello' }, callOptions());
    assert.equal(upstream.requests.at(-1)?.path, '/v1/embeddings');
    assert.deepEqual(response.data[0]?.embedding, [0.1, 0.2]);
  });
});
