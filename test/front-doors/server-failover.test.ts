/**
 * A mid-stream fail-over seen through each front door: the first upstream cuts its stream after
 * some text, the next model restarts the answer, and the client (the official Anthropic SDK, the
 * official openai client) sees one clean answer: one message, one text block, no repeat, a normal
 * end. The request log row names both models and the fall-back; the metrics count the request once.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type FakeHandler,
  type FakeUpstream,
  startFakeUpstream,
  writeSse,
} from '../helpers/fake-upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { parseFrames } from './helpers.ts';
import { anthropicEvents, googleChunk, openaiChunk, pieces } from './server-fakes.ts';

const answer = 'The answer is 42.';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** An OpenAI-style stream that sends "The answer " and then drops the connection. */
async function openaiCut(response: ServerResponse): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  response.write(`data: ${JSON.stringify(openaiChunk({ role: 'assistant', content: '' }))}\n\n`);
  response.write(`data: ${JSON.stringify(openaiChunk({ content: 'The answer ' }))}\n\n`);
  await sleep(10);
  response.destroy();
}

/** An Anthropic-style stream that sends "The answer " and then drops the connection. */
async function anthropicCut(response: ServerResponse): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  const events = anthropicEvents({ kind: 'text', text: 'The answer ' }).slice(0, 3);
  for (const [event, data] of events) response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  await sleep(10);
  response.destroy();
}

type Streaming = { provider: string; base_url: string; model?: string };

interface FailoverPair {
  first: FakeUpstream;
  second: FakeUpstream;
  gateway: Awaited<ReturnType<typeof startTestGateway>>;
}

/**
 * One describe block's set-up: a first upstream that cuts its stream, a second that restarts the
 * answer, and a gateway whose model `a` (on the first) falls back to `b` (on the second).
 */
function failoverPair(
  cut: FakeHandler,
  restart: FakeHandler,
  models: (firstUrl: string, secondUrl: string) => { a: Streaming; b: Streaming },
): FailoverPair {
  const pair = {} as FailoverPair;
  const streaming = (model: Streaming) => ({ ...model, api_key: 'k', capabilities: ['streaming' as const] });
  before(async () => {
    pair.first = await startFakeUpstream(cut);
    pair.second = await startFakeUpstream(restart);
    const { a, b } = models(pair.first.url, pair.second.url);
    pair.gateway = await startTestGateway({
      models: { a: { ...streaming(a), fallbacks: ['b'] }, b: streaming(b) },
    });
  });
  after(async () => {
    await pair.gateway.close();
    await pair.first.close();
    await pair.second.close();
  });
  return pair;
}

interface LogRow {
  request_id: string;
  api: string;
  model: string;
  fallbacks: number;
  status: number;
  models_tried: Array<{ model: string; outcome: string }>;
}

async function logRow(url: string, api: string, requestId: string): Promise<LogRow | undefined> {
  const log = (await (await fetch(`${url}/admin/requests?api=${api}`)).json()) as { data: LogRow[] };
  return log.data.find((row) => row.request_id === requestId);
}

async function requestsTotal(url: string, model: string, provider: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(
    `^switchyard_requests_total\\{model="${model}",provider="${provider}",status="200"\\} (\\d+)$`,
    'm',
  );
  return Number(line.exec(text)?.[1] ?? 0);
}

describe('mid-stream fail-over through POST /v1/messages (OpenAI-style cut, Anthropic-style restart)', () => {
  const pair = failoverPair(
    (_request, response) => openaiCut(response),
    (_request, response) => writeSse(response, anthropicEvents({ kind: 'text', text: answer })),
    (first, second) => ({
      a: { provider: 'openai', base_url: `${first}/v1` },
      // No prefill: b restarts the answer and the gateway forwards only what follows the sent text.
      b: { provider: 'anthropic', base_url: second },
    }),
  );

  it('the Anthropic SDK gets one clean message; the log and metrics tell what happened', async () => {
    const before = await requestsTotal(pair.gateway.url, 'b', 'anthropic');
    const client = new Anthropic({ baseURL: pair.gateway.url, apiKey: 'unused', maxRetries: 0 });
    const { data: stream, response } = await client.messages
      .create({ model: 'a', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Q?' }] })
      .withResponse();
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    assert.equal(text, answer, 'no splice, no repeat');
    assert.equal(types.filter((type) => type === 'message_start').length, 1);
    assert.equal(types.filter((type) => type === 'content_block_start').length, 1, 'one text block');
    assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
    assert.equal(pair.second.requests.length, 1);
    const sent = pair.second.requests[0]!.json as { messages: Array<{ role: string }> };
    assert.equal(sent.messages.at(-1)?.role, 'user', 'a restart, not a prefill');

    const requestId = response.headers.get('x-switchyard-request-id')!;
    assert.equal(response.headers.get('x-switchyard-model'), 'a', 'headers went out with a');
    const row = await logRow(pair.gateway.url, 'messages', requestId);
    assert.ok(row, 'logged under api=messages');
    assert.equal(row.model, 'b');
    assert.equal(row.fallbacks, 1);
    assert.equal(row.status, 200);
    assert.deepEqual(
      row.models_tried.map((attempt) => attempt.model),
      ['a', 'b'],
    );
    assert.notEqual(row.models_tried[0]!.outcome, 'success');
    assert.equal(await requestsTotal(pair.gateway.url, 'b', 'anthropic'), before + 1);
  });

  it('the raw events: one message, one text block, the cut invisible', async () => {
    const response = await fetch(`${pair.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'a',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'Q?' }],
      }),
    });
    const events = parseFrames(await response.text());
    assert.ok(!events.some((event) => event.event === 'error'), 'no error event');
    const text = events
      .filter((event) => event.event === 'content_block_delta')
      .map((event) => (event.data.delta as { text: string }).text)
      .join('');
    assert.equal(text, answer);
    assert.equal(events.at(-1)!.event, 'message_stop');
  });
});

describe('mid-stream fail-over through POST /v1/responses (Anthropic-style cut, Gemini-style restart)', () => {
  const pair = failoverPair(
    (_request, response) => anthropicCut(response),
    (_request, response) =>
      writeSse(response, [
        ...pieces(answer).map((piece) => [undefined, googleChunk([{ text: piece }])] as [undefined, unknown]),
        [
          undefined,
          googleChunk([{ text: '' }], 'STOP', {
            promptTokenCount: 5,
            candidatesTokenCount: 6,
            totalTokenCount: 11,
          }),
        ],
      ]),
    (first, second) => ({
      a: { provider: 'anthropic', base_url: first },
      b: { provider: 'google', base_url: second, model: 'gemini-pro' },
    }),
  );

  it('the openai client gets one clean response; the log and metrics tell what happened', async () => {
    const before = await requestsTotal(pair.gateway.url, 'b', 'google');
    const { data: stream, response } = await pair.gateway.client.responses
      .create({ model: 'a', input: 'Q?', stream: true })
      .withResponse();
    const types: string[] = [];
    let text = '';
    let completed: { id: string; output: Array<{ type: string }>; output_text?: string } | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.equal(text, answer, 'no splice, no repeat');
    assert.ok(!types.includes('error') && !types.includes('response.failed'), types.join(','));
    assert.equal(types.filter((type) => type === 'response.output_item.added').length, 1, 'one item');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(completed);
    assert.equal(completed.output.length, 1);
    const stored = await pair.gateway.client.responses.retrieve(completed.id);
    assert.equal(stored.output_text, answer, 'the stored response is the clean answer');

    const requestId = response.headers.get('x-switchyard-request-id')!;
    const row = await logRow(pair.gateway.url, 'responses', requestId);
    assert.ok(row, 'logged under api=responses');
    assert.equal(row.model, 'b');
    assert.equal(row.fallbacks, 1);
    assert.deepEqual(
      row.models_tried.map((attempt) => attempt.model),
      ['a', 'b'],
    );
    assert.equal(await requestsTotal(pair.gateway.url, 'b', 'google'), before + 1);
  });
});

describe('mid-stream fail-over through POST /v1/chat/completions (OpenAI-style cut, OpenAI-style restart)', () => {
  // The restart replays the answer from its start, role first: the gateway must drop the role
  // and the replayed text from chunks it would otherwise send on as the upstream wrote them.
  const pair = failoverPair(
    (_request, response) => openaiCut(response),
    (_request, response) =>
      writeSse(response, [
        [undefined, openaiChunk({ role: 'assistant', content: '' })],
        [undefined, openaiChunk({ content: 'The ans' })],
        [undefined, openaiChunk({ content: 'wer is 42.' })],
        [undefined, openaiChunk({}, 'stop')],
      ]),
    (first, second) => ({
      a: { provider: 'openai', base_url: `${first}/v1` },
      b: { provider: 'openai', base_url: `${second}/v1` },
    }),
  );

  it("the openai client gets the answer once, one role, the gateway's id and model on every chunk", async () => {
    const stream = await pair.gateway.client.chat.completions.create({
      model: 'a',
      messages: [{ role: 'user', content: 'Q?' }],
      stream: true,
    });
    let text = '';
    let roles = 0;
    const ids = new Set<string>();
    const models = new Set<string>();
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      models.add(chunk.model);
      for (const choice of chunk.choices) {
        if (choice.delta.role) roles++;
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
    }
    assert.equal(text, answer, 'no splice, no repeat');
    assert.equal(roles, 1, 'the restart does not announce the role again');
    assert.equal(finish, 'stop');
    assert.equal(ids.size, 1, 'one id for the whole stream');
    assert.match([...ids][0]!, /^chatcmpl-req_/, "the gateway's id, not an upstream's");
    assert.deepEqual(
      [...models],
      ['a', 'b'],
      "each chunk names the model that sent it, as the gateway names it (never the upstream's gpt-4o)",
    );
  });
});
