/**
 * The Messages front door's errors, seen through the official `@anthropic-ai/sdk` as its typed
 * errors (every one in Anthropic's shape, auth failures included), count_tokens, keys sent as
 * x-api-key or Bearer, and keep-alive pings on a silent stream.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { normalizeConfig } from '../../src/config/load.ts';
import { createGateway } from '../../src/gateway/index.ts';
import { createGatewayServer, type RunningServer } from '../../src/server/http-server.ts';
import { messagesErrorWriters, messagesRoutes } from '../../src/server/messages-routes.ts';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';
import { parseFrames } from './helpers.ts';
import { openaiChunk } from './server-fakes.ts';

const hello = [{ role: 'user' as const, content: 'Hello' }];

/** The body of an SDK APIError: Anthropic's `{"type":"error","error":{...}}`. */
function errorBody(error: unknown): { type: string; error: { type: string; message: string } } {
  assert.ok(error instanceof Anthropic.APIError, `an APIError, got ${String(error)}`);
  return error.error as { type: string; error: { type: string; message: string } };
}

describe('Messages errors through the Anthropic SDK', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let client: Anthropic;
  before(async () => {
    gateway = await startTestGateway({
      server: { api_keys: ['sk-right'] },
      models: { sim: fastSimulated() },
    });
    client = new Anthropic({ baseURL: gateway.url, apiKey: 'sk-right', maxRetries: 0 });
  });
  after(() => gateway.close());

  it('a wrong x-api-key is a 401 AuthenticationError (authentication_error)', async () => {
    const wrong = new Anthropic({ baseURL: gateway.url, apiKey: 'sk-wrong', maxRetries: 0 });
    const error = await wrong.messages
      .create({ model: 'sim', max_tokens: 16, messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.AuthenticationError, String(error));
    assert.equal(error.status, 401);
    const body = errorBody(error);
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'authentication_error');
  });

  it('a missing key is a 401 in the same shape, count_tokens included', async () => {
    const { status, json } = await postJson(`${gateway.url}/v1/messages/count_tokens`, {
      model: 'sim',
      messages: hello,
    });
    assert.equal(status, 401);
    assert.equal(json.type, 'error');
    assert.equal(json.error.type, 'authentication_error');
  });

  it('the key as x-api-key or as a Bearer token (ANTHROPIC_AUTH_TOKEN) both work', async () => {
    const viaApiKey = await client.messages.create({ model: 'sim', max_tokens: 16, messages: hello });
    assert.equal(viaApiKey.type, 'message');
    const bearer = new Anthropic({
      baseURL: gateway.url,
      apiKey: null,
      authToken: 'sk-right',
      maxRetries: 0,
    });
    const viaBearer = await bearer.messages.create({ model: 'sim', max_tokens: 16, messages: hello });
    assert.equal(viaBearer.type, 'message');
  });

  it('an unknown model is a 404 NotFoundError (not_found_error) with the request id', async () => {
    const error = await client.messages
      .create({ model: 'claude-nonexistent', max_tokens: 16, messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.NotFoundError, String(error));
    const body = errorBody(error);
    assert.equal(body.error.type, 'not_found_error');
    assert.match(body.error.message, /claude-nonexistent/);
    assert.match(error.requestID ?? '', /^req_/, 'request-id header');
    assert.equal((body as { request_id?: string }).request_id, error.requestID);
  });

  it('a streamed request for an unknown model fails as an HTTP 404, not a broken stream', async () => {
    const stream = client.messages.stream({ model: 'claude-nonexistent', max_tokens: 16, messages: hello });
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.NotFoundError, String(error));
  });

  it('a bad body is a 400 BadRequestError naming the field', async () => {
    const error = await client.messages
      .create({ model: 'sim', messages: hello } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    const body = errorBody(error);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /^max_tokens: Field required/);
  });

  it('malformed JSON and an unsupported block are 400 invalid_request_error', async () => {
    const headers = { 'x-api-key': 'sk-right' };
    const broken = await postJson(`${gateway.url}/v1/messages`, '{"model": "sim",', headers);
    assert.equal(broken.status, 400);
    assert.equal(broken.json.error.type, 'invalid_request_error');
    const block = await postJson(
      `${gateway.url}/v1/messages`,
      { model: 'sim', max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'video', url: 'x' }] }] },
      headers,
    );
    assert.equal(block.status, 400);
    assert.equal(block.json.error.type, 'invalid_request_error');
    assert.match(block.json.error.message, /messages\.0\.content\.0\.type/);
  });

  it('an Anthropic-defined tool with no Anthropic backend is a clear 400', async () => {
    const error = await client.messages
      .create({
        model: 'sim',
        max_tokens: 16,
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        messages: hello,
      })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.match(errorBody(error).error.message, /web_search_20250305.*Anthropic backend/);
  });

  it('count_tokens counts, grows with the prompt, and knows the models', async () => {
    const short = await client.messages.countTokens({ model: 'sim', messages: hello });
    const long = await client.messages.countTokens({
      model: 'sim',
      system: 'You are a careful assistant who answers in full sentences.',
      messages: [{ role: 'user', content: 'Hello '.repeat(200) }],
    });
    assert.ok(short.input_tokens > 0 && short.input_tokens < 20, `short: ${short.input_tokens}`);
    assert.ok(long.input_tokens > short.input_tokens + 150, `long: ${long.input_tokens}`);
    const withTools = await client.messages.countTokens({
      model: 'sim',
      messages: hello,
      tools: [
        { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
    });
    assert.ok(withTools.input_tokens > short.input_tokens, 'tools add tokens');
    const error = await client.messages
      .countTokens({ model: 'nope', messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.NotFoundError, String(error));
    assert.equal(errorBody(error).error.type, 'not_found_error');
  });
});

describe('Messages errors when every upstream fails', () => {
  const started: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const part of started) await part.close();
  });

  /** Two models on a fake that answers every call with `status`; each breaker opens on one failure. */
  async function clientFailingWith(status: number): Promise<Anthropic> {
    const upstream = await startFakeUpstream((_request, response) =>
      sendJson(
        response,
        status,
        { error: { message: 'busy', type: 'server_error' } },
        status === 429 ? { 'retry-after': '7' } : {},
      ),
    );
    const model = (name: string) => ({
      provider: 'openai' as const,
      base_url: `${upstream.url}/v1`,
      api_key: 'k',
      model: name,
      circuit_breaker: { failure_threshold: 1, recovery_timeout: 60 },
    });
    const gateway = await startTestGateway({
      resilience: { backoff_base: 0.001, backoff_max: 0.002 },
      models: { a: model('a'), b: model('b') },
    });
    started.push(gateway, upstream);
    return new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
  }

  it('every upstream rate limited: a 429 RateLimitError (rate_limit_error) with retry-after', async () => {
    const client = await clientFailingWith(429);
    const error = await client.messages
      .create({ model: 'auto', max_tokens: 16, messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.RateLimitError, String(error));
    assert.equal(errorBody(error).error.type, 'rate_limit_error');
    assert.equal(error.headers?.get('retry-after'), '7');
  });

  it('every upstream failing, then every breaker open: api_error 502, then overloaded_error 503', async () => {
    const client = await clientFailingWith(500);
    const failed = await client.messages
      .create({ model: 'auto', max_tokens: 16, messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(failed instanceof Anthropic.InternalServerError, String(failed));
    assert.equal(failed.status, 502);
    assert.equal(errorBody(failed).error.type, 'api_error');
    assert.match(errorBody(failed).error.message, /every candidate failed/);
    // Both breakers opened on that failure: nothing can take the next request.
    const overloaded = await client.messages
      .create({ model: 'auto', max_tokens: 16, messages: hello })
      .catch((caught: unknown) => caught);
    assert.ok(overloaded instanceof Anthropic.InternalServerError, String(overloaded));
    assert.equal(overloaded.status, 503);
    assert.equal(errorBody(overloaded).error.type, 'overloaded_error');
  });
});

describe('Messages streams: keep-alive pings and failures after the first byte', () => {
  let upstream: FakeUpstream;
  let behaviour: (response: ServerResponse) => Promise<void> | void;
  let running: RunningServer;
  before(async () => {
    upstream = await startFakeUpstream((_request, response) => behaviour(response));
    const config = normalizeConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        observability: { log_level: 'silent', request_log: { enabled: false } },
        models: {
          target: { provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'k', timeout: 5 },
        },
      },
      {},
    );
    const gateway = createGateway({ config, seed: 1 });
    // A short silence before a ping, so the test need not wait ten seconds.
    running = await createGatewayServer(gateway, {
      routes: messagesRoutes(gateway, { pingAfterSilenceMs: 40 }),
      errorWriters: messagesErrorWriters,
    }).listen(0, '127.0.0.1');
  });
  after(async () => {
    await running.close();
    await upstream.close();
  });

  const sse = (response: ServerResponse, chunk: unknown) =>
    response.write(`data: ${JSON.stringify(chunk)}\n\n`);

  it('a silence mid-answer gets ping events; the answer still arrives whole', async () => {
    behaviour = async (response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(response, openaiChunk({ role: 'assistant', content: 'Thinking' }));
      await new Promise((done) => setTimeout(done, 200));
      sse(response, openaiChunk({ content: ' done.' }));
      sse(response, openaiChunk({}, 'stop'));
      response.end('data: [DONE]\n\n');
    };
    const response = await fetch(`${running.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'target', max_tokens: 32, stream: true, messages: hello }),
    });
    const events = parseFrames(await response.text());
    const names = events.map((event) => event.event);
    const firstDelta = names.indexOf('content_block_delta');
    const pingsAfterText = names.slice(firstDelta).filter((name) => name === 'ping').length;
    assert.ok(pingsAfterText >= 1, `a keep-alive ping during the silence: ${names.join(',')}`);
    assert.equal(names.at(-1), 'message_stop');
    const text = events
      .filter((event) => event.event === 'content_block_delta')
      .map((event) => (event.data.delta as { text: string }).text)
      .join('');
    assert.equal(text, 'Thinking done.');
  });

  it('an upstream cut after text with nowhere to fail over: an error event, and the SDK raises', async () => {
    behaviour = async (response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(response, openaiChunk({ role: 'assistant', content: 'Partial ' }));
      await new Promise((done) => setTimeout(done, 10));
      response.destroy();
    };
    const raw = await fetch(`${running.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'target', max_tokens: 32, stream: true, messages: hello }),
    });
    const events = parseFrames(await raw.text());
    assert.equal(events[0]!.event, 'message_start');
    const last = events.at(-1)!;
    assert.equal(last.event, 'error');
    assert.equal(last.data.type, 'error');
    assert.ok(!events.some((event) => event.event === 'message_stop'), 'no message_stop after an error');

    const client = new Anthropic({ baseURL: running.url, apiKey: 'unused', maxRetries: 0 });
    const stream = client.messages.stream({ model: 'target', max_tokens: 32, messages: hello });
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.APIError, String(error));
  });
});
