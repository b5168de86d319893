/**
 * The Responses front door's stored responses and its edges, through the official `openai`
 * client and the Vercel AI SDK's default `@ai-sdk/openai` provider (which speaks the Responses
 * API): retrieve/delete, `store: false`, a clear 400 for a previous_response_id or item_reference
 * to nothing stored, responses owned by the client key, text.format json_schema, what is not
 * supported, errors in OpenAI's shape, the request log row (`api = responses`) and metrics.
 * And the response store on disk: 0600 in a 0700 folder, bounded rows, retention.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { ResponseStore } from '../../src/state/response-store.ts';
import type { FakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';
import { modelFor, startFake } from './server-fakes.ts';

describe('stored responses: retrieve, delete, store: false, previous_response_id', () => {
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

  it('responses.retrieve returns the stored response; responses.delete removes it', async () => {
    const created = await gateway.client.responses.create({
      model: 'target',
      input: 'Say hello',
      metadata: { ticket: 'T-1' },
    });
    const retrieved = await gateway.client.responses.retrieve(created.id);
    assert.equal(retrieved.id, created.id);
    assert.deepEqual(retrieved.output, created.output);
    assert.equal(retrieved.output_text, 'Hello from openai.');
    assert.deepEqual(retrieved.metadata, { ticket: 'T-1' });
    await gateway.client.responses.delete(created.id);
    const gone = await gateway.client.responses.retrieve(created.id).catch((caught: unknown) => caught);
    assert.ok(gone instanceof OpenAI.NotFoundError, String(gone));
    const again = await gateway.client.responses.delete(created.id).catch((caught: unknown) => caught);
    assert.ok(again instanceof OpenAI.NotFoundError, 'deleting twice is a 404');
    const continued = await gateway.client.responses
      .create({ model: 'target', input: 'more', previous_response_id: created.id })
      .catch((caught: unknown) => caught);
    assert.ok(continued instanceof OpenAI.BadRequestError, String(continued));
    assert.equal(continued.param, 'previous_response_id');
    assert.match(continued.message, /not found/);
  });

  it('store: false keeps nothing: retrieve is a 404 and previous_response_id a 400', async () => {
    const created = await gateway.client.responses.create({ model: 'target', input: 'Hi', store: false });
    assert.equal((created as { store?: boolean }).store, false);
    const retrieved = await gateway.client.responses.retrieve(created.id).catch((caught: unknown) => caught);
    assert.ok(retrieved instanceof OpenAI.NotFoundError, String(retrieved));
    const continued = await gateway.client.responses
      .create({ model: 'target', input: 'more', previous_response_id: created.id })
      .catch((caught: unknown) => caught);
    assert.ok(continued instanceof OpenAI.BadRequestError, String(continued));
  });

  it('previous_response_id carries the whole stored conversation, but not its instructions', async () => {
    const first = await gateway.client.responses.create({
      model: 'target',
      instructions: 'Answer in French.',
      input: 'First question',
    });
    const second = await gateway.client.responses.create({
      model: 'target',
      input: 'Second question',
      previous_response_id: first.id,
    });
    await gateway.client.responses.create({
      model: 'target',
      input: 'Third question',
      previous_response_id: second.id,
    });
    const sent = upstream.requests.at(-1)!.json as { messages: Array<{ role: string; content: unknown }> };
    assert.deepEqual(
      sent.messages.map((message) => [message.role, message.content]),
      [
        ['user', 'First question'],
        ['assistant', 'Hello from openai.'],
        ['user', 'Second question'],
        ['assistant', 'Hello from openai.'],
        ['user', 'Third question'],
      ],
    );
  });

  it('an item_reference to a stored item is resolved; one to nothing stored is a 400', async () => {
    const created = await gateway.client.responses.create({ model: 'target', input: 'Say hello' });
    const itemId = created.output[0]!.id!;
    const next = await gateway.client.responses.create({
      model: 'target',
      store: false,
      input: [
        { role: 'user', content: 'Say hello' },
        { type: 'item_reference', id: itemId },
        { role: 'user', content: 'Again' },
      ],
    });
    assert.equal(next.status, 'completed');
    const sent = upstream.requests.at(-1)!.json as { messages: Array<{ role: string; content: unknown }> };
    assert.deepEqual(sent.messages[1], { role: 'assistant', content: 'Hello from openai.' });
    const missing = await gateway.client.responses
      .create({ model: 'target', input: [{ type: 'item_reference', id: 'msg_nothing' }] })
      .catch((caught: unknown) => caught);
    assert.ok(missing instanceof OpenAI.BadRequestError, String(missing));
    assert.equal(missing.param, 'input[0]');
  });

  it('text.format json_schema reaches the backend as response_format', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, celsius: { type: 'number' } },
      required: ['city', 'celsius'],
      additionalProperties: false,
    };
    await gateway.client.responses.create({
      model: 'target',
      input: 'Weather as JSON',
      store: false,
      text: { format: { type: 'json_schema', name: 'weather', schema, strict: true } },
    });
    const sent = upstream.requests.at(-1)!.json as { response_format: unknown };
    assert.deepEqual(sent.response_format, {
      type: 'json_schema',
      json_schema: { name: 'weather', schema, strict: true },
    });
  });

  it('the request log has the row with api=responses, and switchyard_requests_total counted it', async () => {
    const metricLine = /^switchyard_requests_total\{model="target",provider="openai",status="200"\} (\d+)$/m;
    const countBefore = Number(
      metricLine.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1] ?? 0,
    );
    const { response } = await gateway.client.responses
      .create({ model: 'target', input: 'Hi', store: false, stream: true })
      .withResponse();
    const requestId = response.headers.get('x-switchyard-request-id');
    assert.ok(requestId);
    await response.text();
    const log = (await (await fetch(`${gateway.url}/admin/requests?api=responses`)).json()) as {
      data: Array<{ request_id: string; api: string; stream: boolean; status: number }>;
    };
    const row = log.data.find((entry) => entry.request_id === requestId);
    assert.ok(row, 'the streamed request is in the log under api=responses');
    assert.equal(row.api, 'responses');
    assert.equal(row.stream, true);
    assert.equal(row.status, 200);
    const countAfter = Number(
      metricLine.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1] ?? 0,
    );
    assert.equal(countAfter, countBefore + 1);
  });
});

describe('Responses: JSON answers, refusals by name, errors, and keys', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  const key = (apiKey: string) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
  before(async () => {
    gateway = await startTestGateway({
      server: { api_keys: ['sk-alice', 'sk-bob'] },
      models: { sim: fastSimulated() },
    });
  });
  after(() => gateway.close());

  it('text.format json_schema: the answer parses and has the required fields', async () => {
    const response = await key('sk-alice').responses.create({
      model: 'sim',
      input: 'Weather in Paris as JSON',
      store: false,
      text: {
        format: {
          type: 'json_schema',
          name: 'weather',
          strict: true,
          schema: {
            type: 'object',
            properties: { city: { type: 'string' }, celsius: { type: 'number' } },
            required: ['city', 'celsius'],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = JSON.parse(response.output_text) as { city: unknown; celsius: unknown };
    assert.equal(typeof parsed.city, 'string');
    assert.equal(typeof parsed.celsius, 'number');
    assert.equal(response.text?.format?.type, 'json_schema');
  });

  it('a stored response belongs to the key that made it: another key can neither read nor continue it', async () => {
    const created = await key('sk-alice').responses.create({ model: 'sim', input: 'Secret plans' });
    assert.equal((await key('sk-alice').responses.retrieve(created.id)).id, created.id);
    const read = await key('sk-bob')
      .responses.retrieve(created.id)
      .catch((caught: unknown) => caught);
    assert.ok(read instanceof OpenAI.NotFoundError, String(read));
    const continued = await key('sk-bob')
      .responses.create({ model: 'sim', input: 'And?', previous_response_id: created.id })
      .catch((caught: unknown) => caught);
    assert.ok(continued instanceof OpenAI.BadRequestError, String(continued));
    const deleted = await key('sk-bob')
      .responses.delete(created.id)
      .catch((caught: unknown) => caught);
    assert.ok(deleted instanceof OpenAI.NotFoundError, String(deleted));
    assert.equal((await key('sk-alice').responses.retrieve(created.id)).id, created.id, 'still there');
  });

  it('a wrong key is a 401 in OpenAI shape; an unknown model a 404, streamed or not', async () => {
    const unauthorized = await key('sk-eve')
      .responses.create({ model: 'sim', input: 'Hi' })
      .catch((caught: unknown) => caught);
    assert.ok(unauthorized instanceof OpenAI.AuthenticationError, String(unauthorized));
    const missing = await key('sk-alice')
      .responses.create({ model: 'gpt-9', input: 'Hi' })
      .catch((caught: unknown) => caught);
    assert.ok(missing instanceof OpenAI.NotFoundError, String(missing));
    assert.equal(missing.code, 'model_not_found');
    const streamed = await key('sk-alice')
      .responses.create({ model: 'gpt-9', input: 'Hi', stream: true })
      .catch((caught: unknown) => caught);
    assert.ok(streamed instanceof OpenAI.NotFoundError, 'before the first byte: an HTTP error');
  });

  it('built-in tools, background mode and unknown fields are clear 400s naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tools: [{ type: 'web_search' }] }, 'tools'],
      [{ tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 'tools'],
      [{ background: true }, 'background'],
      [{ conversation: 'conv_1' }, 'conversation'],
      [{ frobnicate: 1 }, 'frobnicate'],
    ];
    for (const [extra, param] of cases) {
      const { status, json } = await postJson(
        `${gateway.url}/v1/responses`,
        { model: 'sim', input: 'Hi', ...extra },
        { authorization: 'Bearer sk-alice' },
      );
      assert.equal(status, 400, JSON.stringify(extra));
      assert.equal(json.error.type, 'invalid_request_error');
      assert.ok(String(json.error.param).startsWith(param), `${json.error.param} names ${param}`);
    }
  });

  it('an unknown sub-resource is a 404, and a wrong method a 405', async () => {
    const created = await key('sk-alice').responses.create({ model: 'sim', input: 'Hi' });
    const items = await fetch(`${gateway.url}/v1/responses/${created.id}/input_items`, {
      headers: { authorization: 'Bearer sk-alice' },
    });
    assert.equal(items.status, 404);
    const put = await fetch(`${gateway.url}/v1/responses`, {
      method: 'GET',
      headers: { authorization: 'Bearer sk-alice' },
    });
    assert.equal(put.status, 405);
  });
});

describe('the Vercel AI SDK default provider (Responses API) through the gateway', () => {
  let upstream: FakeUpstream;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startFake('anthropic');
    gateway = await startTestGateway({ models: { target: modelFor('anthropic', upstream) } });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });
  const provider = () => createOpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1` });
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }),
    execute: async ({ city }) => `sunny (${city})`,
  });

  it('generateText: text and usage; a second turn sends the first answer as an item_reference', async () => {
    const first = await generateText({ model: provider()('target'), prompt: 'Say hello', maxRetries: 0 });
    assert.equal(first.text, 'Hello from anthropic.');
    assert.equal(first.usage.inputTokens, 11);
    assert.equal(first.usage.outputTokens, 7);
    const posted: string[] = [];
    const second = await generateText({
      model: createOpenAI({
        apiKey: 'unused',
        baseURL: `${gateway.url}/v1`,
        fetch: async (url, init) => {
          posted.push(String(init?.body ?? ''));
          return fetch(url, init);
        },
      })('target'),
      messages: [
        { role: 'user', content: 'Say hello' },
        ...first.response.messages,
        { role: 'user', content: 'Again' },
      ],
      maxRetries: 0,
    });
    assert.equal(second.text, 'Hello from anthropic.');
    assert.match(posted[0] ?? '', /"item_reference"/, 'the SDK referred to the stored item');
    const sent = upstream.requests.at(-1)!.json as { messages: Array<{ role: string; content: unknown }> };
    assert.deepEqual(sent.messages[1], {
      role: 'assistant',
      content: [{ type: 'text', text: 'Hello from anthropic.' }],
    });
  });

  it('streamText with a tool: the call streams, the tool runs, the next step answers from its result', async () => {
    const result = streamText({
      model: provider()('target'),
      prompt: 'What is the weather in Paris?',
      tools: { get_weather: weather },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    const calls: unknown[] = [];
    let text = '';
    for await (const part of result.fullStream) {
      if (part.type === 'tool-call') calls.push([part.toolName, part.input]);
      if (part.type === 'text-delta') text += part.text;
      if (part.type === 'error') assert.fail(`stream error: ${String(part.error)}`);
    }
    assert.deepEqual(calls, [['get_weather', { city: 'Paris' }]]);
    assert.equal(text, 'It is sunny (Paris) in Paris.');
    assert.equal(await result.finishReason, 'stop');
    // The second step carried the tool result to the Anthropic backend as a tool_result block.
    const sent = upstream.requests.at(-1)!.json as { messages: Array<{ role: string; content: any }> };
    const last = sent.messages.at(-1)!;
    assert.equal(last.role, 'user');
    assert.equal(last.content[0].type, 'tool_result');
    assert.equal(last.content[0].tool_use_id, 'toolu_fake1');
  });
});

describe('the response store on disk', () => {
  const folder = mkdtempSync(join(tmpdir(), 'switchyard-responses-'));
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('0600 in a 0700 folder; rows over maxBytes are refused; expired rows are not returned and are pruned', () => {
    let now = 1_000_000;
    const path = join(folder, 'state', 'responses.db');
    const store = new ResponseStore({ path, retentionDays: 1, maxBytes: 200, now: () => now });
    try {
      assert.equal(store.put('resp_a', 'key_1', { text: 'small' }, ['msg_a']), true);
      assert.equal(store.put('resp_big', 'key_1', { text: 'x'.repeat(300) }), 'too_large');
      assert.equal(store.get('resp_big', 'key_1'), undefined);
      assert.equal(statSync(join(folder, 'state')).mode & 0o777, 0o700);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(store.get('resp_a', 'key_1'), { text: 'small' });
      assert.deepEqual(store.getByItem('msg_a', 'key_1'), { text: 'small' });
      assert.equal(store.get('resp_a', 'key_2'), undefined, 'another owner');
      assert.equal(store.getByItem('msg_a', 'key_2'), undefined, 'another owner, by item');
      now += 86_400_000 + 1;
      assert.equal(store.get('resp_a', 'key_1'), undefined, 'expired');
      assert.equal(store.getByItem('msg_a', 'key_1'), undefined, 'expired, by item');
      assert.equal(store.prune(), 1);
      assert.equal(store.put('resp_b', 'key_1', { text: 'later' }, ['msg_b']), true);
      assert.equal(store.delete('resp_b', 'key_2'), false, 'only the owner deletes');
      assert.equal(store.delete('resp_b', 'key_1'), true);
      assert.equal(store.getByItem('msg_b', 'key_1'), undefined, 'its items went with it');
    } finally {
      store.close();
    }
  });
});
