import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';

function assertOpenAIError(json: any, code: string, param?: string | null, context?: string): void {
  assert.ok(json?.error, 'error object');
  assert.equal(typeof json.error.message, 'string');
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error && 'code' in json.error, 'param and code present');
  assert.equal(json.error.code, code, context);
  if (param !== undefined) assert.equal(json.error.param, param);
}

describe('client errors in OpenAI shape', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let chatUrl: string;
  before(async () => {
    gateway = await startTestGateway({
      server: { body_limit: 4096 },
      models: { alpha: fastSimulated(), beta: fastSimulated() },
    });
    chatUrl = `${gateway.url}/v1/chat/completions`;
  });
  after(() => gateway.close());

  it('malformed JSON -> 400 invalid_json', async () => {
    const { status, json } = await postJson(chatUrl, '{"model": "auto", "messages": [');
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_json');
  });

  it('empty body -> 400', async () => {
    const { status, json } = await postJson(chatUrl, '');
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_json');
  });

  it('messages missing -> 400 with param', async () => {
    const { status, json } = await postJson(chatUrl, { model: 'auto' });
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_request', 'messages');
  });

  it('messages not an array -> 400 with param', async () => {
    const { status, json } = await postJson(chatUrl, { model: 'auto', messages: 'hello' });
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_request', 'messages');
  });

  it('a message without role -> 400 naming it', async () => {
    const { status, json } = await postJson(chatUrl, {
      model: 'auto',
      messages: [{ role: 'user', content: 'a' }, { content: 'b' }],
    });
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_request', 'messages[1].role');
  });

  it('model missing -> 400', async () => {
    const { status, json } = await postJson(chatUrl, { messages: [{ role: 'user', content: 'a' }] });
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_request', 'model');
  });

  it('bad field types -> 400 naming the field', async () => {
    const { status, json } = await postJson(chatUrl, {
      model: 'auto',
      temperature: 7,
      messages: [{ role: 'user', content: 'a' }],
    });
    assert.equal(status, 400);
    assertOpenAIError(json, 'invalid_request', 'temperature');
  });

  it('unknown model -> 404 model_not_found listing valid names', async () => {
    const { status, json } = await postJson(chatUrl, {
      model: 'gpt-9',
      messages: [{ role: 'user', content: 'a' }],
    });
    assert.equal(status, 404);
    assertOpenAIError(json, 'model_not_found', 'model');
    assert.match(json.error.message, /alpha/);
    assert.match(json.error.message, /beta/);
    assert.match(json.error.message, /auto/);
  });

  it('oversized body -> 413', async () => {
    const big = 'x'.repeat(10_000);
    const { status, json } = await postJson(chatUrl, {
      model: 'auto',
      messages: [{ role: 'user', content: big }],
    });
    assert.equal(status, 413);
    assertOpenAIError(json, 'body_too_large');
  });

  it('unknown endpoint -> 404, wrong method -> 405', async () => {
    const notFound = await fetch(`${gateway.url}/v1/nothing`);
    assert.equal(notFound.status, 404);
    assertOpenAIError(await notFound.json(), 'not_found');
    const wrongMethod = await fetch(chatUrl);
    assert.equal(wrongMethod.status, 405);
  });

  it('the openai client surfaces these as typed errors', async () => {
    await assert.rejects(
      gateway.client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      (error: any) => error.status === 404 && error.code === 'model_not_found',
    );
  });
});

describe('client keys', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    gateway = await startTestGateway({
      server: { api_keys: ['sy-client-key-1'] },
      models: { alpha: fastSimulated() },
    });
  });
  after(() => gateway.close());

  it('401 without or with a wrong key; 200 with the right one', async () => {
    const url = `${gateway.url}/v1/chat/completions`;
    const body = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };
    const missing = await postJson(url, body);
    assert.equal(missing.status, 401);
    assertOpenAIError(missing.json, 'unauthorized');
    const wrong = await postJson(url, body, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const right = await postJson(url, body, { authorization: 'Bearer sy-client-key-1' });
    assert.equal(right.status, 200);
    assert.equal((await fetch(`${gateway.url}/health/liveness`)).status, 200);
  });

  it('admin data needs the key; the dashboard exchanges ?key= for an HttpOnly cookie once', async () => {
    assert.equal((await fetch(`${gateway.url}/admin/stats`)).status, 401);
    assert.equal((await fetch(`${gateway.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${gateway.url}/dashboard`)).status, 200, 'the page itself holds no data');
    assert.equal((await fetch(`${gateway.url}/dashboard/api/snapshot`)).status, 401);
    assert.equal(
      (await fetch(`${gateway.url}/dashboard/api/snapshot?key=sy-client-key-1`)).status,
      401,
      'the data endpoints take no key in the URL',
    );
    const wrong = await fetch(`${gateway.url}/dashboard?key=wrong`, { redirect: 'manual' });
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.get('set-cookie'), null, 'a wrong key gets no session');
    const exchanged = await fetch(`${gateway.url}/dashboard?key=sy-client-key-1`, { redirect: 'manual' });
    assert.equal(exchanged.status, 303);
    assert.equal(exchanged.headers.get('location'), '/dashboard', 'the key leaves the address');
    const cookie = exchanged.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.doesNotMatch(cookie, /sy-client-key-1/);
    const session = cookie.split(';')[0]!;
    assert.equal(
      (await fetch(`${gateway.url}/dashboard/api/snapshot`, { headers: { cookie: session } })).status,
      200,
    );
    const forged = `${session.split('.')[0]}.forged`;
    assert.equal(
      (await fetch(`${gateway.url}/dashboard/api/snapshot`, { headers: { cookie: forged } })).status,
      401,
    );
    assert.equal(
      (await fetch(`${gateway.url}/admin/stats`, { headers: { cookie: session } })).status,
      401,
      'the session is for the dashboard only',
    );
  });
});

describe('broken upstream bodies become 502, never a crash', () => {
  let upstream: FakeUpstream;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startFakeUpstream((request, response) => {
      const mode = (request.json as any)?.messages?.[0]?.content;
      if (mode === 'html') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<html><body>Bad gateway</body></html>');
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess');
      }
    });
    gateway = await startTestGateway({
      resilience: { max_attempts_per_model: 1 },
      models: { real: { provider: 'openai', base_url: `${upstream.url}/v1`, api_key: 'k', timeout: 5 } },
    });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  for (const mode of ['html', 'truncated']) {
    it(`${mode} body -> 502 with a clear message`, async () => {
      const { status, json } = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'real',
        messages: [{ role: 'user', content: mode }],
      });
      assert.equal(status, 502);
      assertOpenAIError(json, 'bad_upstream_response', undefined, json.error?.message);
      assert.match(json.error.message, /not valid JSON/);
      if (mode === 'html') assert.match(json.error.message, /HTML/);
    });
  }

  it('the gateway still serves afterwards', async () => {
    const live = await fetch(`${gateway.url}/health/liveness`);
    assert.equal(live.status, 200);
  });
});
