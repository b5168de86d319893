/**
 * Fault injection on loopback: fake OpenAI-format upstreams that fail in the ways real ones do,
 * behind a real gateway, driven by the official openai client. Each scenario checks that every
 * request ends in exactly one success or one clean error, and counts upstream attempts.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  type FakeUpstream,
  type RecordedRequest,
  sendJson,
  startFakeUpstream,
} from '../helpers/fake-upstream.ts';
import { postJson, startTestGateway } from '../helpers/gateway.ts';

type Behaviour = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

function completion(text: string) {
  return {
    id: 'chatcmpl-x',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
  };
}

const ok =
  (name: string): Behaviour =>
  (request, response) => {
    if ((request.json as { stream?: boolean })?.stream)
      return streamWords(response, name, [`${name}-1 `, `${name}-2 `, `${name}-3`]);
    sendJson(response, 200, completion(`answer from ${name}`));
  };

function chunk(content: string | undefined, finish: string | null = null) {
  return `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] })}\n\n`;
}

async function streamWords(
  response: ServerResponse,
  _name: string,
  words: string[],
  gapMs = 0,
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  response.write(
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
  );
  for (const word of words) {
    if (gapMs) await sleep(gapMs);
    if (response.destroyed) return;
    response.write(chunk(word));
  }
  response.write(chunk(undefined, 'stop'));
  response.write(
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length } })}\n\n`,
  );
  response.end('data: [DONE]\n\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const upstreams: Record<string, FakeUpstream> = {};
const behaviours: Record<string, Behaviour> = {};

async function gatewayFor(
  models: Record<string, Record<string, unknown>>,
  resilience: Record<string, unknown> = {},
) {
  const config: Record<string, unknown> = {};
  for (const [name, extra] of Object.entries(models)) {
    config[name] = {
      provider: 'openai',
      base_url: `${upstreams[name]!.url}/v1`,
      api_key: `sk-${name}-secret`,
      strengths: ['simple_qa'],
      timeout: 0.5,
      timeouts: { first_token: 0.5, idle: 0.4, connect: 0.5 },
      capabilities: ['tools', 'streaming', 'json'],
      circuit_breaker: { failure_threshold: 3, recovery_timeout: 0.6 },
      health_check: { enabled: false },
      ...extra,
    };
  }
  return startTestGateway({
    models: config as never,
    routing: { fallback_count: 2 },
    resilience: {
      backoff_base: 0.01,
      backoff_max: 0.05,
      max_retry_after: 0.3,
      request_deadline: 5,
      ...resilience,
    },
  });
}

function attemptsTo(name: string): number {
  return upstreams[name]!.requests.length;
}

describe('fault injection', () => {
  before(async () => {
    for (const name of ['a', 'b', 'c']) {
      behaviours[name] = ok(name);
      upstreams[name] = await startFakeUpstream((request, response) => behaviours[name]!(request, response));
    }
  });
  afterEach(() => {
    for (const name of ['a', 'b', 'c']) {
      behaviours[name] = ok(name);
      upstreams[name]!.requests.length = 0;
    }
  });
  after(async () => {
    for (const upstream of Object.values(upstreams)) await upstream.close();
  });

  it('outage: every request is answered by a fallback; the breaker stops the calls to the dead model', async () => {
    behaviours.a = (_request, response) =>
      sendJson(response, 503, {
        error: { message: 'overloaded', type: 'server_error', param: null, code: null },
      });
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {}, c: {} });
    try {
      const results = [];
      for (let i = 0; i < 12; i++) {
        const { data, response } = await gateway.client.chat.completions
          .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
          .withResponse();
        results.push({
          text: data.choices[0]?.message.content,
          model: response.headers.get('x-switchyard-model'),
          fallbacks: response.headers.get('x-switchyard-fallbacks'),
        });
      }
      assert.ok(results.every((result) => result.text === 'answer from b' && result.model === 'b'));
      assert.equal(results[0]?.fallbacks, '1');
      // 2 attempts per request until 3 consecutive failures open the breaker: 4 calls at most (2 + 1 + trial).
      assert.ok(attemptsTo('a') <= 4, `a was called ${attemptsTo('a')} times`);
      assert.equal(attemptsTo('b'), 12);
      const stats = (await (await fetch(`${gateway.url}/admin/stats`)).json()) as {
        models: Array<{ model: string; breaker: string }>;
      };
      assert.equal(stats.models.find((model) => model.model === 'a')?.breaker, 'open');
    } finally {
      await gateway.close();
    }
  });

  it('hang: a silent upstream is not retried; the request fails over after one first-token timeout', async () => {
    behaviours.a = () => {}; // never answers
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const started = Date.now();
      const { response } = await gateway.client.chat.completions
        .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      const elapsed = Date.now() - started;
      assert.equal(response.headers.get('x-switchyard-model'), 'b');
      assert.equal(attemptsTo('a'), 1, 'no second wait on a dead route');
      assert.ok(elapsed < 2500, `took ${elapsed} ms`); // one wait (undici checks timeouts at ~0.5 s granularity)
    } finally {
      await gateway.close();
    }
  });

  it('429 storm: a long Retry-After moves on at once; a short one is honoured', async () => {
    behaviours.a = (_request, response) =>
      sendJson(
        response,
        429,
        {
          error: {
            message: 'Rate limit reached',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
        { 'retry-after': '20' },
      );
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      for (let i = 0; i < 5; i++) {
        const { response } = await gateway.client.chat.completions
          .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
          .withResponse();
        assert.equal(response.headers.get('x-switchyard-model'), 'b');
      }
      assert.ok(attemptsTo('a') <= 3, `a called ${attemptsTo('a')} times`);
      // Short Retry-After: retried on the same model after the wait.
      let calls = 0;
      behaviours.b = (_request, response) => {
        calls++;
        if (calls === 1)
          sendJson(
            response,
            429,
            { error: { message: 'slow down', type: 'requests', param: null, code: null } },
            { 'retry-after-ms': '100' },
          );
        else sendJson(response, 200, completion('b after wait'));
      };
      const answer = await gateway.client.chat.completions.create({
        model: 'b',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(answer.choices[0]?.message.content, 'b after wait');
      assert.equal(calls, 2);
    } finally {
      await gateway.close();
    }
  });

  it('every candidate rate limited: 429 with Retry-After to the client', async () => {
    const limited: Behaviour = (_request, response) =>
      sendJson(
        response,
        429,
        {
          error: {
            message: 'Rate limit reached',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
        { 'retry-after': '7' },
      );
    behaviours.a = limited;
    behaviours.b = limited;
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'a',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(result.status, 429);
      assert.equal(result.json.error.code, 'rate_limited');
      assert.equal(result.headers.get('retry-after'), '7');
      assert.match(result.json.error.message, /a: /);
      assert.match(result.json.error.message, /b: /);
    } finally {
      await gateway.close();
    }
  });

  it('flapping: alternating failures never reach the client', async () => {
    let n = 0;
    behaviours.a = (request, response) => {
      n++;
      if (n % 2 === 0)
        return sendJson(response, 500, {
          error: { message: 'boom', type: 'server_error', param: null, code: null },
        });
      return ok('a')(request, response);
    };
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          gateway.client.chat.completions
            .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
            .then(
              () => 'ok',
              (error) => `error ${error.status}`,
            ),
        ),
      );
      assert.deepEqual(new Set(outcomes), new Set(['ok']));
      const total = attemptsTo('a') + attemptsTo('b');
      assert.ok(total <= 20 * 2, `${total} upstream attempts for 20 requests`);
    } finally {
      await gateway.close();
    }
  });

  it('bad key: 401 takes the model out of rotation after one call', async () => {
    behaviours.a = (_request, response) =>
      sendJson(response, 401, {
        error: {
          message: 'Incorrect API key provided: sk-a-se***ret.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      for (let i = 0; i < 4; i++) {
        const { response } = await gateway.client.chat.completions
          .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
          .withResponse();
        assert.equal(response.headers.get('x-switchyard-model'), 'b');
      }
      assert.equal(attemptsTo('a'), 1);
    } finally {
      await gateway.close();
    }
  });

  it('client errors come back at once and never count against the model', async () => {
    behaviours.a = (_request, response) =>
      sendJson(response, 400, {
        error: {
          message: "Invalid value for 'temperature'",
          type: 'invalid_request_error',
          param: 'temperature',
          code: null,
        },
      });
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      for (let i = 0; i < 5; i++) {
        const result = await postJson(`${gateway.url}/v1/chat/completions`, {
          model: 'a',
          messages: [{ role: 'user', content: 'hi' }],
        });
        assert.equal(result.status, 400);
        assert.equal(result.json.error.param, 'temperature');
      }
      assert.equal(attemptsTo('a'), 5, 'one attempt each, no retry');
      assert.equal(attemptsTo('b'), 0, 'no fail-over for the client’s own fault');
      const stats = (await (await fetch(`${gateway.url}/admin/stats`)).json()) as {
        models: Array<{ model: string; breaker: string }>;
      };
      assert.equal(stats.models.find((model) => model.model === 'a')?.breaker, 'closed');
    } finally {
      await gateway.close();
    }
  });

  it('content policy: not retried, reason reaches the client', async () => {
    behaviours.a = (_request, response) =>
      sendJson(response, 400, {
        error: {
          message: 'Your request was rejected as a result of our safety system.',
          type: 'invalid_request_error',
          param: null,
          code: 'content_policy_violation',
        },
      });
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'a',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(result.status, 400);
      assert.equal(result.json.error.code, 'content_policy_violation');
      assert.match(result.json.error.message, /safety system/);
      assert.equal(attemptsTo('a'), 1);
      assert.equal(attemptsTo('b'), 0);
    } finally {
      await gateway.close();
    }
  });

  it('context length from the upstream moves only to a model with a larger window', async () => {
    behaviours.a = (_request, response) =>
      sendJson(response, 400, {
        error: {
          message: "This model's maximum context length is 8192 tokens.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      });
    const gateway = await gatewayFor({
      a: { fallbacks: ['b', 'c'], max_tokens: 8192 },
      b: { max_tokens: 8192 },
      c: { max_tokens: 200_000 },
    });
    try {
      const { response } = await gateway.client.chat.completions
        .create({ model: 'a', messages: [{ role: 'user', content: 'long' }] })
        .withResponse();
      assert.equal(response.headers.get('x-switchyard-model'), 'c');
      assert.equal(attemptsTo('b'), 0, 'b has no larger window');
    } finally {
      await gateway.close();
    }
  });

  it('stream breaks before the first token: transparent fail-over, one clean stream', async () => {
    behaviours.a = (request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
      );
      setTimeout(() => response.destroy(), 20);
      void request;
    };
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const { data: stream, response } = await gateway.client.chat.completions
        .create({ model: 'a', stream: true, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(response.headers.get('x-switchyard-model'), 'b');
      let text = '';
      let roles = 0;
      for await (const part of stream) {
        if (part.choices[0]?.delta.role) roles++;
        text += part.choices[0]?.delta.content ?? '';
      }
      assert.equal(text, 'b-1 b-2 b-3');
      assert.equal(roles, 1);
    } finally {
      await gateway.close();
    }
  });

  it('a stall before the first token (headers sent, no token) fails over after the first-token timeout', async () => {
    behaviours.a = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(': keep-alive\n\n');
    };
    const gateway = await gatewayFor({
      a: { fallbacks: ['b'], timeouts: { first_token: 0.3, idle: 5 } },
      b: {},
    });
    try {
      const stream = await gateway.client.chat.completions.create({
        model: 'a',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let text = '';
      for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
      assert.equal(text, 'b-1 b-2 b-3');
      assert.equal(attemptsTo('a'), 1);
    } finally {
      await gateway.close();
    }
  });

  it('stream breaks after text: continues on a prefill-capable model as one seamless answer', async () => {
    behaviours.a = async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('The answer '));
      response.write(chunk('is '));
      await sleep(10);
      response.destroy();
    };
    behaviours.b = (request, response) => {
      const messages = (request.json as { messages: Array<{ role: string; content: string }> }).messages;
      const last = messages.at(-1)!;
      assert.equal(last.role, 'assistant');
      assert.equal(last.content, 'The answer is ');
      void streamWords(response, 'b', ['42', '.']);
    };
    const gateway = await gatewayFor({
      a: { fallbacks: ['b'] },
      b: { capabilities: ['streaming', 'prefill'] },
    });
    try {
      const stream = await gateway.client.chat.completions.create({
        model: 'a',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hi' }],
      });
      let text = '';
      let finish: string | null = null;
      const ids = new Set<string>();
      for await (const part of stream) {
        ids.add(part.id);
        text += part.choices[0]?.delta.content ?? '';
        finish = part.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(text, 'The answer is 42.');
      assert.equal(finish, 'stop');
      assert.equal(ids.size, 1);
      assert.equal(attemptsTo('b'), 1);
    } finally {
      await gateway.close();
    }
  });

  it('stream breaks after text with no prefill-capable model: the next model restarts it and only what follows the sent text is forwarded', async () => {
    behaviours.a = async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('The answer '));
      await sleep(10);
      response.destroy();
    };
    let restartRequest: { messages: Array<{ role: string }> } | undefined;
    behaviours.b = (request, response) => {
      restartRequest = request.json as typeof restartRequest;
      void streamWords(response, 'b', ['The ', 'answer is', ' 42.']);
    };
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const stream = await gateway.client.chat.completions.create({
        model: 'a',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hi' }],
      });
      let text = '';
      let finish: string | null = null;
      let usage: { completion_tokens: number } | undefined;
      for await (const part of stream) {
        text += part.choices[0]?.delta.content ?? '';
        finish = part.choices[0]?.finish_reason ?? finish;
        if (part.usage) usage = part.usage;
      }
      assert.equal(text, 'The answer is 42.', 'one answer: no splice, no duplicate');
      assert.equal(finish, 'stop');
      assert.equal(attemptsTo('b'), 1);
      assert.equal(restartRequest?.messages.at(-1)?.role, 'user', 'a restart, not a prefill');
      // What reached the client is billed: a's streamed text (estimated) plus b's reported usage.
      assert.ok(usage && usage.completion_tokens > 3, `usage covers both segments: ${JSON.stringify(usage)}`);
    } finally {
      await gateway.close();
    }
  });

  it('a restart that diverges from the sent text ends with an error event, never [DONE]', async () => {
    behaviours.a = async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('Partial '));
      await sleep(10);
      response.destroy();
    };
    behaviours.b = (_request, response) => void streamWords(response, 'b', ['Something ', 'else']);
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} });
    try {
      const raw = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'a', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = await raw.text();
      assert.match(body, /Partial /);
      assert.doesNotMatch(body, /Something/, 'nothing of the diverging restart is forwarded');
      assert.doesNotMatch(body, /\[DONE\]/);
      const events = body
        .trim()
        .split('\n\n')
        .map((event) => JSON.parse(event.replace(/^data: /, '')));
      const last = events.at(-1);
      assert.ok(last.error, 'last event is an error');
      assert.match(last.error.message, /interrupted/);
      assert.match(last.error.message, /diverged/);
      assert.match(last.error.message, /a: /, 'names the original failure');
      // And the openai client raises instead of returning a cut answer as complete.
      await assert.rejects(async () => {
        const stream = await gateway.client.chat.completions.create({
          model: 'a',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        });
        for await (const _part of stream) {
          // drain
        }
      });
    } finally {
      await gateway.close();
    }
  });

  it('slow drip: a stream that stalls mid-answer is cut by the idle timeout and continued', async () => {
    behaviours.a = async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('one '));
      await sleep(1500); // longer than the idle timeout (undici checks it at ~0.5 s granularity)
      if (!response.destroyed) response.end(chunk('two '));
    };
    behaviours.b = (_request, response) => void streamWords(response, 'b', ['rest']);
    const gateway = await gatewayFor({
      a: { fallbacks: ['b'], timeouts: { first_token: 2, idle: 0.3 } },
      b: { capabilities: ['streaming', 'prefill'] },
    });
    try {
      const stream = await gateway.client.chat.completions.create({
        model: 'a',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let text = '';
      for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
      assert.equal(text, 'one rest');
    } finally {
      await gateway.close();
    }
  });

  it('half-open recovery: after recovery_timeout one trial goes through and closes the breaker', async () => {
    let healthy = false;
    behaviours.a = (request, response) =>
      healthy
        ? ok('a')(request, response)
        : sendJson(response, 503, {
            error: { message: 'down', type: 'server_error', param: null, code: null },
          });
    const gateway = await gatewayFor({ a: { fallbacks: ['b'] }, b: {} }, { max_attempts_per_model: 1 });
    try {
      const ask = async () =>
        (
          await gateway.client.chat.completions
            .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
            .withResponse()
        ).response.headers.get('x-switchyard-model');
      for (let i = 0; i < 3; i++) assert.equal(await ask(), 'b');
      const callsWhileDown = attemptsTo('a');
      assert.equal(await ask(), 'b');
      assert.equal(attemptsTo('a'), callsWhileDown, 'open breaker: no call');
      healthy = true;
      await sleep(700);
      assert.equal(await ask(), 'a', 'trial request succeeded');
      assert.equal(await ask(), 'a');
    } finally {
      await gateway.close();
    }
  });

  it('a client that disconnects cancels the upstream call', async () => {
    let upstreamClosed = false;
    behaviours.a = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('first '));
      response.on('close', () => {
        upstreamClosed = true;
      });
      const timer = setInterval(() => response.write(chunk('more ')), 50);
      response.on('close', () => clearInterval(timer));
    };
    const gateway = await gatewayFor({ a: { timeouts: { first_token: 2, idle: 2 } } });
    const finished: Array<{ status: number; errorCode: string | undefined }> = [];
    gateway.gateway.events.subscribe({ requestFinished: (summary) => finished.push(summary) });
    try {
      const controller = new AbortController();
      const stream = await gateway.client.chat.completions.create(
        { model: 'a', stream: true, messages: [{ role: 'user', content: 'hi' }] },
        { signal: controller.signal },
      );
      let seen = 0;
      try {
        for await (const _part of stream) {
          if (++seen === 3) controller.abort();
        }
      } catch {
        // The client may raise an abort error or just stop: either way it left.
      }
      assert.equal(seen, 3);
      for (let i = 0; i < 40 && !upstreamClosed; i++) await sleep(25);
      assert.ok(upstreamClosed, 'upstream connection closed after the client left');
      for (let i = 0; i < 40 && finished.length === 0; i++) await sleep(25);
      assert.deepEqual(
        finished.map((summary) => [summary.status, summary.errorCode]),
        [[499, 'client_closed_request']],
        'recorded as a client close, not a server error',
      );
    } finally {
      await gateway.close();
    }
  });

  it('bulkhead: beyond max_concurrency (and its queue) requests overflow to the next model', async () => {
    behaviours.a = async (request, response) => {
      await sleep(300);
      ok('a')(request, response);
    };
    const gateway = await gatewayFor({
      a: { fallbacks: ['b'], max_concurrency: 2, max_queue: 1, timeout: 3, timeouts: { first_token: 3 } },
      b: {},
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 6 }, async () =>
          (
            await gateway.client.chat.completions
              .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
              .withResponse()
          ).response.headers.get('x-switchyard-model'),
        ),
      );
      const byModel: Record<string, number> = {};
      for (const model of answers) byModel[model!] = (byModel[model!] ?? 0) + 1;
      assert.equal(byModel.a, 3, '2 at once + 1 queued');
      assert.equal(byModel.b, 3, 'the rest overflowed');
      assert.equal(attemptsTo('a'), 3);
    } finally {
      await gateway.close();
    }
  });

  it('an open stream counts as in flight until it ends', async () => {
    behaviours.a = async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('first '));
      await sleep(300);
      response.write(chunk(undefined, 'stop'));
      response.end('data: [DONE]\n\n');
    };
    const gateway = await gatewayFor({ a: { timeouts: { first_token: 2, idle: 2 } } });
    try {
      const stream = await gateway.client.chat.completions.create({
        model: 'a',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      const seen: number[] = [];
      for await (const _part of stream) seen.push(gateway.gateway.health.model('a')!.inFlight);
      assert.equal(seen[0], 1, 'in flight while streaming');
      for (let i = 0; i < 20 && gateway.gateway.health.model('a')!.inFlight > 0; i++) await sleep(10);
      assert.equal(gateway.gateway.health.model('a')!.inFlight, 0, 'released when the stream ended');
    } finally {
      await gateway.close();
    }
  });

  it('hedging: a slow primary is raced by the next candidate; the first answer wins', async () => {
    behaviours.a = async (request, response) => {
      await sleep(400);
      if (!response.destroyed) ok('a')(request, response);
    };
    const gateway = await gatewayFor(
      { a: { fallbacks: ['b'], timeout: 3, timeouts: { first_token: 3 } }, b: {} },
      { hedging: { enabled: true, delay: 0.05, budget: 1 } },
    );
    try {
      const started = Date.now();
      const { response } = await gateway.client.chat.completions
        .create({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(response.headers.get('x-switchyard-model'), 'b');
      assert.ok(Date.now() - started < 350, 'did not wait for the slow primary');
      assert.equal(attemptsTo('a'), 1);
      assert.equal(attemptsTo('b'), 1);
    } finally {
      await gateway.close();
    }
  });
});
