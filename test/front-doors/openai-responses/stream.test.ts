import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { GatewayError } from '../../../src/errors.ts';
import {
  chatToResponse,
  type ResponsesRequest,
  ResponsesStreamEncoder,
  responsesToChat,
  validateResponsesRequest,
} from '../../../src/front-doors/openai-responses/index.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../../src/types/openai.ts';
import { chunks, parseFrames, type ReplayServer, type Reply, startReplayServer } from '../helpers.ts';

function counter() {
  const seen = new Map<string, number>();
  return (prefix: string) => {
    const next = (seen.get(prefix) ?? 0) + 1;
    seen.set(prefix, next);
    return `${prefix}_${next}`;
  };
}

const baseRequest: ResponsesRequest = { model: 'auto', input: 'Hi', stream: true };

function encode(input: ChatCompletionChunk[], request: ResponsesRequest = baseRequest) {
  const encoder = new ResponsesStreamEncoder(request, { newId: counter(), createdAt: 1_710_000_000 });
  const frames: string[] = [];
  for (const chunk of input) frames.push(...encoder.push(chunk));
  frames.push(...encoder.finish());
  return frames;
}

function outline(frames: string[]): string[] {
  return parseFrames(frames).map(({ event, data }) => {
    assert.equal(data.type, event, 'the event name and data.type agree');
    const item = data.item as { type?: string } | undefined;
    return item ? `${event}:${item.type}` : event;
  });
}

const textAnswer = () => [
  chunks.role(),
  chunks.text('Hel'),
  chunks.text('lo'),
  chunks.finish('stop'),
  chunks.usage(12, 3),
];
const toolAnswer = () => [
  chunks.role(),
  chunks.text('Checking.'),
  chunks.toolStart(0, 'call_a', 'weather'),
  chunks.toolArgs(0, '{"city":'),
  chunks.toolArgs(0, '"Paris"}'),
  chunks.toolStart(1, 'call_b', 'weather', '{"city":"Rome"}'),
  chunks.finish('tool_calls'),
  chunks.usage(40, 20),
];

describe('Responses stream encoder', () => {
  test('text: the event sequence, growing sequence numbers, ids and indexes', () => {
    const frames = encode(textAnswer());
    const events = parseFrames(frames);
    assert.deepEqual(outline(frames), [
      'response.created',
      'response.in_progress',
      'response.output_item.added:message',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done:message',
      'response.completed',
    ]);
    assert.deepEqual(
      events.map((e) => e.data.sequence_number),
      events.map((_, index) => index),
    );
    assert.deepEqual(events[2]!.data, {
      type: 'response.output_item.added',
      sequence_number: 2,
      output_index: 0,
      item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    assert.deepEqual(events[3]!.data, {
      type: 'response.content_part.added',
      sequence_number: 3,
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
    });
    assert.deepEqual(events[4]!.data, {
      type: 'response.output_text.delta',
      sequence_number: 4,
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      delta: 'Hel',
      logprobs: [],
    });
    assert.equal(events[6]!.data.text, 'Hello');
    const created = events[0]!.data.response as Record<string, unknown>;
    assert.equal(created.id, 'resp_1');
    assert.equal(created.status, 'in_progress');
    assert.deepEqual(created.output, []);
    assert.equal(created.usage, null);
    const completed = events.at(-1)!.data.response as Record<string, unknown>;
    assert.equal(completed.status, 'completed');
    assert.deepEqual(completed.output, [
      {
        id: 'msg_1',
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }],
      },
    ]);
    assert.deepEqual(completed.usage, {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 15,
    });
  });

  test('text then two function calls: one item each, arguments deltas and done', () => {
    const frames = encode(toolAnswer());
    assert.deepEqual(outline(frames), [
      'response.created',
      'response.in_progress',
      'response.output_item.added:message',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done:message',
      'response.output_item.added:function_call',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done:function_call',
      'response.output_item.added:function_call',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done:function_call',
      'response.completed',
    ]);
    const events = parseFrames(frames);
    assert.deepEqual(events[8]!.data.item, {
      id: 'fc_1',
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: 'call_a',
      name: 'weather',
    });
    assert.deepEqual(events[9]!.data, {
      type: 'response.function_call_arguments.delta',
      sequence_number: 9,
      item_id: 'fc_1',
      output_index: 1,
      delta: '{"city":',
    });
    assert.deepEqual(events[11]!.data, {
      type: 'response.function_call_arguments.done',
      sequence_number: 11,
      item_id: 'fc_1',
      output_index: 1,
      name: 'weather',
      arguments: '{"city":"Paris"}',
    });
    assert.equal(events[14]!.data.output_index, 2);
  });

  test('length is response.incomplete with the reason; an empty answer is one empty message', () => {
    const frames = encode([chunks.text('cut'), chunks.finish('length')]);
    const last = parseFrames(frames).at(-1)!;
    assert.equal(last.event, 'response.incomplete');
    const response = last.data.response as Record<string, unknown>;
    assert.equal(response.status, 'incomplete');
    assert.deepEqual(response.incomplete_details, { reason: 'max_output_tokens' });
    const empty = encode([chunks.role(), chunks.finish('stop')]);
    assert.deepEqual(outline(empty).slice(2), [
      'response.output_item.added:message',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done:message',
      'response.completed',
    ]);
  });

  test('begin() sends response.created and response.in_progress before any chunk, once', () => {
    const encoder = new ResponsesStreamEncoder(baseRequest, { newId: counter(), createdAt: 1 });
    const opening = parseFrames(encoder.begin());
    assert.deepEqual(
      opening.map((e) => [e.event, e.data.sequence_number]),
      [
        ['response.created', 0],
        ['response.in_progress', 1],
      ],
    );
    assert.equal((opening[0]!.data.response as { model: string }).model, 'auto');
    assert.deepEqual(encoder.begin(), []);
    const rest = parseFrames([...encoder.push(chunks.text('Hi')), ...encoder.finish()]);
    assert.equal(rest[0]!.event, 'response.output_item.added');
    assert.equal(rest[0]!.data.sequence_number, 2);
  });

  test('a refusal streams as a refusal part', () => {
    const frames = encode([
      chunks.base({ refusal: "I can't" }),
      chunks.base({ refusal: ' help.' }),
      chunks.finish('stop'),
    ]);
    const events = parseFrames(frames);
    assert.deepEqual(outline(frames).slice(3, 8), [
      'response.content_part.added',
      'response.refusal.delta',
      'response.refusal.delta',
      'response.refusal.done',
      'response.content_part.done',
    ]);
    assert.equal(events.find((e) => e.event === 'response.refusal.done')!.data.refusal, "I can't help.");
  });

  test('a failure after the first byte: error, then response.failed with the output so far', () => {
    const encoder = new ResponsesStreamEncoder(baseRequest, { newId: counter() });
    encoder.push(chunks.text('partial'));
    const events = parseFrames(encoder.fail(new GatewayError('no_model_available', 'every model failed')));
    assert.deepEqual(
      events.map((e) => e.event),
      ['error', 'response.failed'],
    );
    assert.deepEqual(events[0]!.data, {
      type: 'error',
      sequence_number: 5,
      code: 'no_model_available',
      message: 'every model failed',
      param: null,
    });
    const failed = events[1]!.data.response as {
      status: string;
      error: unknown;
      output: Array<{ status: string; content: unknown }>;
    };
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.error, { code: 'server_error', message: 'every model failed' });
    assert.equal(failed.output[0]!.status, 'incomplete');
    assert.deepEqual(failed.output[0]!.content, [
      { type: 'output_text', text: 'partial', annotations: [], logprobs: [] },
    ]);
    assert.deepEqual(encoder.finish(), []);
    assert.deepEqual(encoder.push(chunks.text('x')), []);
  });
});

/**
 * Serve like the front door would: validate the body the client sent, translate it, and answer
 * with a canned completion (streamed through the encoder when asked), recording the ChatRequest.
 */
function frontDoor(server: ReplayServer, answer: () => ChatCompletionChunk[], translated: ChatRequest[]) {
  server.reply((body): Reply => {
    let request: ResponsesRequest;
    try {
      request = validateResponsesRequest(body);
    } catch (error) {
      const gatewayError = error as GatewayError;
      return { kind: 'json', status: gatewayError.status, body: gatewayError.toJSON() };
    }
    translated.push(responsesToChat(request));
    if (request.stream) return { kind: 'sse', frames: encode(answer(), request) };
    return { kind: 'json', body: chatToResponse(collect(answer()), request, { newId: counter() }) };
  });
}

/** The chunks as one completion (what the pipeline's non-streaming path returns). */
function collect(input: ChatCompletionChunk[]): ChatCompletion {
  let content = '';
  const calls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> = [];
  let finish: ChatCompletion['choices'][number]['finish_reason'] = null;
  let usage: ChatCompletion['usage'];
  for (const chunk of input) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    for (const call of choice.delta.tool_calls ?? []) {
      calls[call.index] ??= {
        id: call.id ?? '',
        type: 'function',
        function: { name: call.function?.name ?? '', arguments: '' },
      };
      calls[call.index]!.function.arguments += call.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_710_000_000,
    model: 'gpt-4o',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: content || null,
          ...(calls.length ? { tool_calls: calls } : {}),
        },
        finish_reason: finish,
      },
    ],
    usage,
  };
}

describe('the official openai client reads the Responses front door', () => {
  let server: ReplayServer;
  const translated: ChatRequest[] = [];
  before(async () => {
    server = await startReplayServer();
  });
  after(() => server.close());
  const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 });

  test('responses.create, not streamed: output_text and function calls', async () => {
    frontDoor(server, toolAnswer, translated);
    const response = await client().responses.create({
      model: 'auto',
      input: 'Weather in Paris and Rome?',
      tools: [
        {
          type: 'function',
          name: 'weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: false,
        },
      ],
    });
    assert.equal(server.requests.at(-1)!.path, '/v1/responses');
    assert.equal(response.output_text, 'Checking.');
    assert.deepEqual(
      response.output
        .filter((item) => item.type === 'function_call')
        .map((item) => [item.call_id, item.arguments]),
      [
        ['call_a', '{"city":"Paris"}'],
        ['call_b', '{"city":"Rome"}'],
      ],
    );
    assert.equal(response.usage?.total_tokens, 60);
  });

  test('responses.create with stream: true yields every event in order', async () => {
    frontDoor(server, toolAnswer, translated);
    const stream = await client().responses.create({ model: 'auto', input: 'go', stream: true });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    assert.equal(text, 'Checking.');
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.deepEqual(sequence, [...sequence.keys()]);
  });

  test('responses.stream accumulates to the same final response (the SDK checks every index)', async () => {
    frontDoor(server, toolAnswer, translated);
    const stream = client().responses.stream({ model: 'auto', input: 'go' });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, 'Checking.');
    assert.deepEqual(
      final.output.map((item) => item.type),
      ['message', 'function_call', 'function_call'],
    );
    assert.equal(final.status, 'completed');
  });

  test('a streamed failure reaches the SDK as an error event and response.failed', async () => {
    server.reply(() => {
      const encoder = new ResponsesStreamEncoder(baseRequest, { newId: counter() });
      return {
        kind: 'sse',
        frames: [
          ...encoder.push(chunks.text('half')),
          ...encoder.fail(new GatewayError('upstream_timeout', 'timed out')),
        ],
      };
    });
    const stream = await client().responses.create({ model: 'auto', input: 'go', stream: true });
    const seen: string[] = [];
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === 'error') assert.equal(event.message, 'timed out');
      if (event.type === 'response.failed') assert.equal(event.response.error?.code, 'server_error');
    }
    assert.deepEqual(seen.slice(-2), ['error', 'response.failed']);
  });

  test('a built-in tool is refused as a 400 the SDK raises as BadRequestError', async () => {
    frontDoor(server, textAnswer, translated);
    await assert.rejects(
      client().responses.create({ model: 'auto', input: 'x', tools: [{ type: 'web_search' }] }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError &&
        error.param === 'tools' &&
        /web_search/.test(error.message),
    );
  });
});

describe('the Vercel AI SDK (@ai-sdk/openai, Responses API by default) reads the front door', () => {
  let server: ReplayServer;
  const translated: ChatRequest[] = [];
  before(async () => {
    server = await startReplayServer();
  });
  after(() => server.close());
  const provider = () => createOpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1` });
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }),
  });

  test('generateText: text and usage', async () => {
    frontDoor(server, textAnswer, translated);
    const result = await generateText({ model: provider()('gpt-4o'), prompt: 'Say hello', maxRetries: 0 });
    assert.equal(server.requests.at(-1)!.path, '/v1/responses');
    assert.equal(result.text, 'Hello');
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.usage.inputTokens, 12);
    assert.equal(result.usage.outputTokens, 3);
    assert.deepEqual(translated.at(-1)!.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Say hello' }] },
    ]);
  });

  test('generateText: tool calls come back parsed', async () => {
    frontDoor(server, toolAnswer, translated);
    const result = await generateText({
      model: provider()('gpt-4o'),
      prompt: 'Weather in Paris and Rome?',
      tools: { weather },
      maxRetries: 0,
    });
    assert.deepEqual(
      result.toolCalls.map((call) => [call.toolCallId, call.toolName, call.input]),
      [
        ['call_a', 'weather', { city: 'Paris' }],
        ['call_b', 'weather', { city: 'Rome' }],
      ],
    );
    assert.equal(result.finishReason, 'tool-calls');
    assert.equal(translated.at(-1)!.tools?.[0]?.function.name, 'weather');
  });

  test('streamText: text deltas, a streamed tool call and the finish', async () => {
    frontDoor(server, toolAnswer, translated);
    const result = streamText({
      model: provider()('gpt-4o'),
      prompt: 'Weather?',
      tools: { weather },
      maxRetries: 0,
    });
    let text = '';
    const calls: unknown[] = [];
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') text += part.text;
      if (part.type === 'tool-call') calls.push([part.toolCallId, part.input]);
      if (part.type === 'error') assert.fail(`stream error: ${String(part.error)}`);
    }
    assert.equal(text, 'Checking.');
    assert.deepEqual(calls, [
      ['call_a', { city: 'Paris' }],
      ['call_b', { city: 'Rome' }],
    ]);
    assert.equal(await result.finishReason, 'tool-calls');
    const usage = await result.usage;
    assert.equal(usage.inputTokens, 40);
  });
});
