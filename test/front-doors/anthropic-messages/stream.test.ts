import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { GatewayError } from '../../../src/errors.ts';
import { MessagesStreamEncoder } from '../../../src/front-doors/anthropic-messages/index.ts';
import { anthropicStreamToChunks } from '../../../src/providers/anthropic/convert-stream.ts';
import type { SseEvent } from '../../../src/providers/sse.ts';
import type { ChatCompletionChunk } from '../../../src/types/openai.ts';
import { makeSpec } from '../../helpers/spec.ts';
import { chunks, parseFrames, type ReplayServer, startReplayServer } from '../helpers.ts';

function encode(
  input: ChatCompletionChunk[],
  options: ConstructorParameters<typeof MessagesStreamEncoder>[0] = {},
) {
  const encoder = new MessagesStreamEncoder(options);
  const frames: string[] = [];
  for (const chunk of input) frames.push(...encoder.push(chunk));
  frames.push(...encoder.finish());
  return frames;
}

/** Event names, with the block type or delta type where there is one. */
function outline(frames: string[]): string[] {
  return parseFrames(frames).map(({ event, data }) => {
    const block = data.content_block as { type?: string } | undefined;
    const delta = data.delta as { type?: string; stop_reason?: string } | undefined;
    if (event === 'content_block_start') return `${event}:${data.index}:${block?.type}`;
    if (event === 'content_block_delta') return `${event}:${data.index}:${delta?.type}`;
    if (event === 'content_block_stop') return `${event}:${data.index}`;
    if (event === 'message_delta') return `${event}:${delta?.stop_reason}`;
    return event;
  });
}

describe('Messages stream encoder', () => {
  test('text: the exact event sequence and payloads', () => {
    const frames = encode(
      [chunks.role(), chunks.text('Hel'), chunks.text('lo'), chunks.finish('stop'), chunks.usage(12, 3)],
      {
        inputTokens: 11,
      },
    );
    const events = parseFrames(frames);
    assert.deepEqual(
      events.map((e) => e.event),
      [
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    );
    for (const event of events)
      assert.equal(event.data.type, event.event, 'every data carries its event type');
    assert.deepEqual(events[0]!.data, {
      type: 'message_start',
      message: {
        id: 'msg_abc123',
        type: 'message',
        role: 'assistant',
        model: 'gpt-4o',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 11,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    });
    assert.deepEqual(events[2]!.data, {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    assert.deepEqual(events[3]!.data, {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'Hel' },
    });
    assert.deepEqual(events[6]!.data, {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: 12,
        output_tokens: 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  test('text then two tool calls: one block each, in order, arguments as input_json_delta', () => {
    const frames = encode([
      chunks.role(),
      chunks.text('Checking both.'),
      chunks.toolStart(0, 'call_a', 'weather'),
      chunks.toolArgs(0, '{"city":'),
      chunks.toolArgs(0, '"Paris"}'),
      chunks.toolStart(1, 'call_b', 'weather', '{"city":"Rome"}'),
      chunks.finish('tool_calls'),
      chunks.usage(50, 20),
    ]);
    assert.deepEqual(outline(frames), [
      'message_start',
      'ping',
      'content_block_start:0:text',
      'content_block_delta:0:text_delta',
      'content_block_stop:0',
      'content_block_start:1:tool_use',
      'content_block_delta:1:input_json_delta',
      'content_block_delta:1:input_json_delta',
      'content_block_stop:1',
      'content_block_start:2:tool_use',
      'content_block_delta:2:input_json_delta',
      'content_block_stop:2',
      'message_delta:tool_use',
      'message_stop',
    ]);
    const starts = parseFrames(frames).filter((e) => e.event === 'content_block_start');
    assert.deepEqual(starts[1]!.data.content_block, {
      type: 'tool_use',
      id: 'call_a',
      name: 'weather',
      input: {},
    });
  });

  test('empty deltas open no block; a usage-only final chunk still reaches message_delta', () => {
    const frames = encode([
      chunks.role(),
      chunks.text(''),
      chunks.base({}),
      chunks.finish('stop'),
      chunks.usage(9, 0, { prompt_tokens_details: { cached_tokens: 4 } }),
    ]);
    assert.deepEqual(outline(frames), ['message_start', 'ping', 'message_delta:end_turn', 'message_stop']);
    const delta = parseFrames(frames)[2]!.data;
    assert.deepEqual(delta.usage, {
      input_tokens: 5,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 4,
    });
  });

  test('length, content_filter, stop sequences and native stop reasons', () => {
    const stopOf = (finish: ChatCompletionChunk) =>
      parseFrames(encode([chunks.text('x'), finish])).at(-2)!.data.delta as {
        stop_reason: string;
        stop_sequence: string | null;
      };
    assert.equal(stopOf(chunks.finish('length')).stop_reason, 'max_tokens');
    assert.equal(stopOf(chunks.finish('content_filter')).stop_reason, 'refusal');
    assert.deepEqual(stopOf(chunks.finish('stop', { stop_sequence: '###' })), {
      stop_reason: 'stop_sequence',
      stop_sequence: '###',
    });
    assert.equal(
      stopOf(chunks.finish('stop', { native_finish_reason: 'pause_turn' })).stop_reason,
      'pause_turn',
    );
  });

  test('thinking deltas become a thinking block with thinking_delta and signature_delta, before the text', () => {
    const frames = encode([
      chunks.base({ thinking_blocks: [{ index: 0, type: 'thinking', thinking: 'Let me ' }] }),
      chunks.base({ thinking_blocks: [{ index: 0, type: 'thinking', thinking: 'think.' }] }),
      chunks.base({ thinking_blocks: [{ index: 0, type: 'thinking', signature: 'sig-1' }] }),
      chunks.base({ thinking_blocks: [{ index: 1, type: 'redacted_thinking', data: 'opaque' }] }),
      chunks.text('Answer'),
      chunks.finish('stop'),
    ]);
    assert.deepEqual(outline(frames), [
      'message_start',
      'ping',
      'content_block_start:0:thinking',
      'content_block_delta:0:thinking_delta',
      'content_block_delta:0:thinking_delta',
      'content_block_delta:0:signature_delta',
      'content_block_stop:0',
      'content_block_start:1:redacted_thinking',
      'content_block_stop:1',
      'content_block_start:2:text',
      'content_block_delta:2:text_delta',
      'content_block_stop:2',
      'message_delta:end_turn',
      'message_stop',
    ]);
  });

  test('reasoning_content from OpenAI-compatible servers streams as thinking', () => {
    const frames = encode([
      chunks.base({ reasoning_content: 'Hmm.' }),
      chunks.text('Yes'),
      chunks.finish('stop'),
    ]);
    assert.deepEqual(outline(frames).slice(2, 5), [
      'content_block_start:0:thinking',
      'content_block_delta:0:thinking_delta',
      'content_block_stop:0',
    ]);
  });

  test('finish() with no chunks still makes a complete, empty message; later pushes are ignored', () => {
    const encoder = new MessagesStreamEncoder({ id: 'msg_fixed', model: 'claude' });
    const frames = encoder.finish();
    assert.deepEqual(outline(frames), ['message_start', 'ping', 'message_delta:end_turn', 'message_stop']);
    assert.equal((parseFrames(frames)[0]!.data.message as { id: string }).id, 'msg_fixed');
    assert.deepEqual(encoder.push(chunks.text('late')), []);
    assert.deepEqual(encoder.finish(), []);
  });

  test('begin() sends message_start and ping before any chunk, once', () => {
    const encoder = new MessagesStreamEncoder({ id: 'msg_early', model: 'claude' });
    const opening = encoder.begin();
    assert.deepEqual(outline(opening), ['message_start', 'ping']);
    assert.equal(encoder.hasStarted, true);
    assert.deepEqual(encoder.begin(), []);
    const rest = [...encoder.push(chunks.text('Hi')), ...encoder.finish()];
    assert.deepEqual(outline(rest), [
      'content_block_start:0:text',
      'content_block_delta:0:text_delta',
      'content_block_stop:0',
      'message_delta:end_turn',
      'message_stop',
    ]);
  });

  test('a failure after the first byte is an error event in Anthropic shape, and the stream ends', () => {
    const encoder = new MessagesStreamEncoder();
    encoder.push(chunks.text('partial'));
    const frames = encoder.fail(new GatewayError('no_model_available', 'every model failed'));
    assert.deepEqual(parseFrames(frames), [
      {
        event: 'error',
        data: { type: 'error', error: { type: 'overloaded_error', message: 'every model failed' } },
      },
    ]);
    assert.deepEqual(encoder.finish(), []);
    assert.deepEqual(encoder.push(chunks.text('more')), []);
  });
});

describe('the official Anthropic SDK parses the encoded stream', () => {
  let server: ReplayServer;
  before(async () => {
    server = await startReplayServer();
  });
  after(() => server.close());
  const client = () => new Anthropic({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
  const params = { model: 'auto', max_tokens: 200, messages: [{ role: 'user' as const, content: 'go' }] };

  test('text, several tool calls and usage: finalMessage has every block', async () => {
    server.reply({
      kind: 'sse',
      frames: encode([
        chunks.role(),
        chunks.text('Checking '),
        chunks.text('both.'),
        chunks.toolStart(0, 'call_a', 'weather'),
        chunks.toolArgs(0, '{"city":'),
        chunks.toolArgs(0, '"Paris"}'),
        chunks.toolStart(1, 'call_b', 'time'),
        chunks.finish('tool_calls'),
        chunks.usage(120, 33, { prompt_tokens_details: { cached_tokens: 100 } }),
      ]),
    });
    const stream = client().messages.stream(params);
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const message = await stream.finalMessage();
    assert.deepEqual(texts, ['Checking ', 'both.']);
    assert.equal(message.id, 'msg_abc123');
    assert.deepEqual(message.content, [
      { type: 'text', text: 'Checking both.' },
      { type: 'tool_use', id: 'call_a', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_b', name: 'time', input: {} },
    ]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.usage.input_tokens, 20);
    assert.equal(message.usage.cache_read_input_tokens, 100);
    assert.equal(message.usage.output_tokens, 33);
  });

  test('interleaved tool-call arguments still reach the right tool_use blocks', async () => {
    server.reply({
      kind: 'sse',
      frames: encode([
        chunks.toolStart(0, 'call_a', 'f'),
        chunks.toolStart(1, 'call_b', 'g'),
        chunks.toolArgs(0, '{"x":'),
        chunks.toolArgs(1, '{"y":'),
        chunks.toolArgs(0, '1}'),
        chunks.toolArgs(1, '2}'),
        chunks.finish('tool_calls'),
      ]),
    });
    const message = await client().messages.stream(params).finalMessage();
    assert.deepEqual(
      message.content.map((block) => (block.type === 'tool_use' ? [block.id, block.input] : block.type)),
      [
        ['call_a', { x: 1 }],
        ['call_b', { y: 2 }],
      ],
    );
  });

  test('an error event after the first byte rejects with the typed API error', async () => {
    const encoder = new MessagesStreamEncoder();
    const frames = [
      ...encoder.push(chunks.text('half')),
      ...encoder.fail(new GatewayError('rate_limited', 'slow down')),
    ];
    server.reply({ kind: 'sse', frames });
    const stream = client().messages.stream(params);
    await assert.rejects(stream.finalMessage(), (error: unknown) => {
      assert.ok(error instanceof Anthropic.APIError);
      assert.equal((error.error as { error?: { type?: string } }).error?.type, 'rate_limit_error');
      return true;
    });
  });

  test('an Anthropic backend stream, through the gateway chunks and back, keeps thinking, signatures, stop sequence and usage', async () => {
    const upstream: Array<[string, unknown]> = [
      [
        'message_start',
        {
          type: 'message_start',
          message: {
            id: 'msg_01ABC',
            type: 'message',
            role: 'assistant',
            content: [],
            model: 'claude-sonnet-4-5',
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: 25,
              output_tokens: 1,
              cache_creation_input_tokens: 500,
              cache_read_input_tokens: 2000,
            },
          },
        },
      ],
      [
        'content_block_start',
        {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'thinking', thinking: '', signature: '' },
        },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'First, ' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'check.' } },
      ],
      [
        'content_block_delta',
        {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM1gbcDa9G' },
        },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'content_block_start',
        { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Result' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 1 }],
      [
        'content_block_start',
        {
          type: 'content_block_start',
          index: 2,
          content_block: { type: 'tool_use', id: 'toolu_01', name: 'save', input: {} },
        },
      ],
      [
        'content_block_delta',
        {
          type: 'content_block_delta',
          index: 2,
          delta: { type: 'input_json_delta', partial_json: '{"ok":true}' },
        },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 2 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { output_tokens: 40 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ];
    async function* events(): AsyncGenerator<SseEvent> {
      for (const [event, data] of upstream) yield { event, data: JSON.stringify(data) };
    }
    const encoder = new MessagesStreamEncoder();
    const frames: string[] = [];
    for await (const chunk of anthropicStreamToChunks(events(), {
      spec: makeSpec({ name: 'claude', provider: 'anthropic' }),
      created: 1,
      fallbackId: 'x',
    })) {
      frames.push(...encoder.push(chunk));
    }
    frames.push(...encoder.finish());
    server.reply({ kind: 'sse', frames });
    const message = await client().messages.stream(params).finalMessage();
    assert.equal(message.id, 'msg_01ABC');
    assert.equal(message.model, 'claude');
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: 'First, check.', signature: 'EqQBCgIYAhIM1gbcDa9G' },
      { type: 'text', text: 'Result' },
      { type: 'tool_use', id: 'toolu_01', name: 'save', input: { ok: true } },
    ]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.usage.input_tokens, 25);
    assert.equal(message.usage.cache_creation_input_tokens, 500);
    assert.equal(message.usage.cache_read_input_tokens, 2000);
    assert.equal(message.usage.output_tokens, 40);
  });
});
