import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { chatToMessage, stopReasonFor } from '../../../src/front-doors/anthropic-messages/index.ts';
import { toChatCompletion } from '../../../src/providers/anthropic/convert-response.ts';
import type { ChatCompletion } from '../../../src/types/openai.ts';
import { makeSpec } from '../../helpers/spec.ts';
import { type ReplayServer, startReplayServer } from '../helpers.ts';

function completion(
  message: Partial<ChatCompletion['choices'][number]['message']>,
  choice: Partial<ChatCompletion['choices'][number]> = {},
  usage: ChatCompletion['usage'] = { prompt_tokens: 20, completion_tokens: 7, total_tokens: 27 },
): ChatCompletion {
  return {
    id: 'chatcmpl-9xYz',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: null, ...message },
        finish_reason: 'stop',
        ...choice,
      },
    ],
    usage,
  };
}

describe('ChatCompletion -> Messages response', () => {
  test('a text answer', () => {
    assert.deepEqual(chatToMessage(completion({ content: 'Hello there.' })), {
      id: 'msg_9xYz',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o',
      content: [{ type: 'text', text: 'Hello there.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 20,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  test('every finish reason maps to its stop reason', () => {
    const cases: Array<[Parameters<typeof stopReasonFor>[0], Parameters<typeof stopReasonFor>[1], string]> = [
      ['stop', {}, 'end_turn'],
      [null, {}, 'end_turn'],
      ['stop', { stopSequence: 'END' }, 'stop_sequence'],
      ['length', {}, 'max_tokens'],
      ['tool_calls', {}, 'tool_use'],
      ['function_call', {}, 'tool_use'],
      ['content_filter', {}, 'refusal'],
      ['stop', { hadToolCalls: true }, 'tool_use'],
      ['stop', { native: 'pause_turn' }, 'pause_turn'],
      ['length', { native: 'model_context_window_exceeded' }, 'model_context_window_exceeded'],
      ['stop', { native: 'STOP' }, 'end_turn'],
    ];
    for (const [finish, details, expected] of cases) {
      assert.equal(stopReasonFor(finish, details), expected, `${finish} ${JSON.stringify(details)}`);
    }
    const hit = chatToMessage(completion({ content: 'a' }, { stop_sequence: 'END' }));
    assert.equal(hit.stop_reason, 'stop_sequence');
    assert.equal(hit.stop_sequence, 'END');
    assert.equal(
      chatToMessage(completion({ content: 'a' }, { finish_reason: 'length' })).stop_reason,
      'max_tokens',
    );
  });

  test('tool calls become tool_use blocks with parsed input; bad JSON and odd ids are handled', () => {
    const message = chatToMessage(
      completion(
        {
          content: 'Checking.',
          tool_calls: [
            {
              id: 'call_Ab12',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call.odd/id', type: 'function', function: { name: 'weather', arguments: '{"city":' } },
            { id: '', type: 'function', function: { name: 'now', arguments: '' } },
          ],
        },
        { finish_reason: 'tool_calls' },
      ),
    );
    assert.deepEqual(message.content, [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'call_Ab12', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_odd_id', name: 'weather', input: { _raw_arguments: '{"city":' } },
      { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
    ]);
    assert.equal(message.stop_reason, 'tool_use');
  });

  test('thinking blocks come first, signatures intact; reasoning text becomes an unsigned thinking block', () => {
    const signed = chatToMessage(
      completion({
        content: 'Answer.',
        thinking_blocks: [
          { type: 'thinking', thinking: 'Let me think.', signature: 'sig-abc' },
          { type: 'redacted_thinking', data: 'opaque' },
        ],
      }),
    );
    assert.deepEqual(signed.content, [
      { type: 'thinking', thinking: 'Let me think.', signature: 'sig-abc' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Answer.' },
    ]);
    const reasoning = chatToMessage(completion({ content: '42', reasoning_content: 'Six times seven.' }));
    assert.deepEqual(reasoning.content[0], { type: 'thinking', thinking: 'Six times seven.', signature: '' });
  });

  test('a refusal is text, and content_filter is a refusal stop', () => {
    const message = chatToMessage(
      completion({ refusal: "I can't help with that." }, { finish_reason: 'content_filter' }),
    );
    assert.deepEqual(message.content, [{ type: 'text', text: "I can't help with that." }]);
    assert.equal(message.stop_reason, 'refusal');
  });

  test('usage with OpenAI cache semantics: cached tokens leave input_tokens', () => {
    const message = chatToMessage(
      completion(
        { content: 'x' },
        {},
        {
          prompt_tokens: 2006,
          completion_tokens: 300,
          total_tokens: 2306,
          prompt_tokens_details: { cached_tokens: 1920 },
        },
      ),
    );
    assert.deepEqual(message.usage, {
      input_tokens: 86,
      output_tokens: 300,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1920,
    });
  });

  test('an Anthropic backend answer comes back through the gateway with its exact usage, id and stop', () => {
    const upstream = {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message' as const,
      role: 'assistant' as const,
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'thinking', thinking: 'Plan.', signature: 'EqQBCgIYAhIM' },
        { type: 'text', text: 'Done' },
      ],
      stop_reason: 'stop_sequence',
      stop_sequence: '###',
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 1200,
        cache_read_input_tokens: 3400,
      },
    };
    const internal = toChatCompletion(
      upstream,
      makeSpec({ name: 'claude', provider: 'anthropic' }),
      1_700_000_000,
    );
    assert.deepEqual(internal.usage, {
      prompt_tokens: 4610,
      completion_tokens: 5,
      total_tokens: 4615,
      prompt_tokens_details: { cached_tokens: 3400, cache_write_tokens: 1200 },
    });
    const message = chatToMessage(internal);
    assert.equal(message.id, upstream.id);
    assert.equal(message.model, 'claude');
    assert.deepEqual(message.content, upstream.content);
    assert.equal(message.stop_reason, 'stop_sequence');
    assert.equal(message.stop_sequence, '###');
    assert.deepEqual(message.usage, upstream.usage);
  });
});

describe('the official Anthropic SDK reads the non-streaming answer', () => {
  let server: ReplayServer;
  before(async () => {
    server = await startReplayServer();
  });
  after(() => server.close());

  test('messages.create returns the message as built', async () => {
    const body = chatToMessage(
      completion(
        {
          content: 'Sure.',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
        },
        { finish_reason: 'tool_calls' },
      ),
    );
    server.reply({ kind: 'json', body });
    const client = new Anthropic({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
    const message = await client.messages.create({
      model: 'auto',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'go' }],
    });
    assert.deepEqual(message, body);
    assert.equal(server.requests[0]!.path, '/v1/messages');
  });

  test('an error body reaches the SDK as its typed error', async () => {
    server.reply({
      kind: 'json',
      status: 529,
      body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    const client = new Anthropic({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
    await assert.rejects(
      client.messages.create({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) =>
        error instanceof Anthropic.APIError && error.status === 529 && /Overloaded/.test(error.message),
    );
  });
});
