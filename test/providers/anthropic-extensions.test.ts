/**
 * The Anthropic converters carry the extension fields of src/types/openai.ts: thinking blocks
 * with signatures, Anthropic's own stop reason and stop sequence (answers), and cache_control,
 * top_k, thinking config, beta flags and other top-level fields (requests).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anthropicBetaHeader, toAnthropicRequest } from '../../src/providers/anthropic/convert-request.ts';
import { toChatCompletion } from '../../src/providers/anthropic/convert-response.ts';
import { anthropicStreamToChunks } from '../../src/providers/anthropic/convert-stream.ts';
import type { SseEvent } from '../../src/providers/sse.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../src/types/openai.ts';
import { makeSpec } from '../helpers/spec.ts';

const spec = makeSpec({ name: 'claude', provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5' });

describe('Anthropic answers keep thinking and the native stop', () => {
  test('non-streaming: thinking_blocks in order, native_finish_reason, stop_sequence', () => {
    const completion = toChatCompletion(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [
          { type: 'thinking', thinking: 'Plan.', signature: 'sig-1' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Answer' },
        ],
        stop_reason: 'stop_sequence',
        stop_sequence: '###',
      },
      spec,
      1,
    );
    const choice = completion.choices[0]!;
    assert.deepEqual(choice.message, {
      role: 'assistant',
      content: 'Answer',
      thinking_blocks: [
        { type: 'thinking', thinking: 'Plan.', signature: 'sig-1' },
        { type: 'redacted_thinking', data: 'opaque' },
      ],
    });
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.native_finish_reason, 'stop_sequence');
    assert.equal(choice.stop_sequence, '###');
  });

  test('streaming: thinking and signature deltas, redacted blocks, and the native stop on the finish chunk', async () => {
    const events: Array<[string, unknown]> = [
      ['message_start', { type: 'message_start', message: { id: 'msg_2', usage: { input_tokens: 3 } } }],
      [
        'content_block_start',
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hm' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'content_block_start',
        { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'xyz' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 1 }],
      [
        'content_block_start',
        { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Hi' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 2 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'pause_turn', stop_sequence: null },
          usage: { output_tokens: 9 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ];
    async function* sse(): AsyncGenerator<SseEvent> {
      for (const [event, data] of events) yield { event, data: JSON.stringify(data) };
    }
    const received: ChatCompletionChunk[] = [];
    for await (const chunk of anthropicStreamToChunks(sse(), { spec, created: 1, fallbackId: 'x' }))
      received.push(chunk);
    const thinking = received.flatMap((chunk) => chunk.choices[0]?.delta.thinking_blocks ?? []);
    assert.deepEqual(thinking, [
      { index: 0, type: 'thinking', thinking: 'Hm' },
      { index: 0, type: 'thinking', signature: 'sig' },
      { index: 1, type: 'redacted_thinking', data: 'xyz' },
    ]);
    const finish = received.find((chunk) => chunk.choices[0]?.finish_reason)!.choices[0]!;
    assert.equal(finish.finish_reason, 'stop');
    assert.equal(finish.native_finish_reason, 'pause_turn');
  });
});

describe('Anthropic requests restore the extension fields', () => {
  test('top_k, thinking, top-level cache_control, betas and passthrough fields', () => {
    const request: ChatRequest = {
      model: 'claude',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 100,
      anthropic: {
        top_k: 5,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        cache_control: { type: 'ephemeral' },
        betas: ['a-1', 'b-2'],
        passthrough: { service_tier: 'auto', max_tokens: 1 },
      },
    };
    const body = toAnthropicRequest(request, spec, false);
    assert.equal(body.top_k, 5);
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.deepEqual(body.cache_control, { type: 'ephemeral' });
    assert.equal(body.service_tier, 'auto');
    assert.equal(body.max_tokens, 100, 'a passthrough field never overrides a mapped one');
    assert.equal(anthropicBetaHeader(request), 'a-1,b-2');
    assert.equal(anthropicBetaHeader({ model: 'm', messages: [] }), undefined);
  });

  test('an OpenAI client request without extensions is sent exactly as before', () => {
    const body = toAnthropicRequest(
      {
        model: 'claude',
        messages: [
          {
            role: 'system',
            content: [
              { type: 'text', text: 'A' },
              { type: 'text', text: 'B' },
            ],
          },
          { role: 'user', content: 'Hi' },
        ],
      },
      spec,
      false,
    );
    assert.equal(body.system, 'A\nB');
    assert.equal(body.top_k, undefined);
    assert.equal(body.thinking, undefined);
  });
});
