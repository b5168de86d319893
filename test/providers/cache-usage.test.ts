/**
 * Cached-token accounting in the provider converters, with exact figures: every provider's usage
 * lands in one normalised form (src/types/openai.ts) — prompt_tokens counts all input,
 * prompt_tokens_details.cached_tokens the part read from cache, cache_write_tokens the part
 * written — and the front doors turn it back into each API's own semantics.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { messagesUsage } from '../../src/front-doors/anthropic-messages/index.ts';
import { responseUsage } from '../../src/front-doors/openai-responses/index.ts';
import {
  toChatCompletion as anthropicCompletion,
  usageFrom,
} from '../../src/providers/anthropic/convert-response.ts';
import { anthropicStreamToChunks } from '../../src/providers/anthropic/convert-stream.ts';
import {
  toChatCompletion as geminiCompletion,
  toUsage,
} from '../../src/providers/google/convert-response.ts';
import { toChunkStream } from '../../src/providers/google/convert-stream.ts';
import type { SseEvent } from '../../src/providers/sse.ts';
import type { ChatCompletionChunk } from '../../src/types/openai.ts';
import { makeSpec } from '../helpers/spec.ts';

async function* sse(events: Array<[string | undefined, unknown]>): AsyncGenerator<SseEvent> {
  for (const [event, data] of events) yield { event, data: JSON.stringify(data) };
}

async function lastUsage(chunks: AsyncIterable<ChatCompletionChunk>) {
  let usage: ChatCompletionChunk['usage'];
  for await (const chunk of chunks) if (chunk.usage) usage = chunk.usage;
  return usage;
}

const geminiContext = {
  model: 'gem',
  provider: 'google',
  id: 'chatcmpl-1',
  created: 1,
  newId: (p: string) => `${p}-1`,
};

describe('Anthropic: cache reads and writes are not inside input_tokens', () => {
  test('a fully cached call: 3 uncached + 12,000 read + 0 written = 12,003 prompt tokens', () => {
    assert.deepEqual(
      usageFrom({
        input_tokens: 3,
        output_tokens: 250,
        cache_read_input_tokens: 12_000,
        cache_creation_input_tokens: 0,
      }),
      {
        prompt_tokens: 12_003,
        completion_tokens: 250,
        total_tokens: 12_253,
        prompt_tokens_details: { cached_tokens: 12_000, cache_write_tokens: 0 },
      },
    );
  });

  test('a cache-writing call: 10 uncached + 0 read + 4,800 written', () => {
    const usage = usageFrom({ input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 4_800 });
    assert.equal(usage.prompt_tokens, 4_810);
    assert.deepEqual(usage.prompt_tokens_details, { cached_tokens: 0, cache_write_tokens: 4_800 });
  });

  test('thinking tokens are reported as reasoning tokens, inside completion_tokens', () => {
    const usage = usageFrom({
      input_tokens: 5,
      output_tokens: 900,
      output_tokens_details: { thinking_tokens: 700 },
    });
    assert.equal(usage.completion_tokens, 900);
    assert.deepEqual(usage.completion_tokens_details, { reasoning_tokens: 700 });
  });

  test('non-streaming and streaming give the same figures, and both front doors report them right', async () => {
    const usage = {
      input_tokens: 25,
      output_tokens: 40,
      cache_creation_input_tokens: 500,
      cache_read_input_tokens: 2_000,
    };
    const completion = anthropicCompletion(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [{ type: 'text', text: 'x' }],
        stop_reason: 'end_turn',
        usage,
      },
      makeSpec({ provider: 'anthropic' }),
      1,
    );
    const streamed = await lastUsage(
      anthropicStreamToChunks(
        sse([
          [
            'message_start',
            {
              type: 'message_start',
              message: {
                id: 'msg_1',
                usage: {
                  input_tokens: 25,
                  output_tokens: 1,
                  cache_creation_input_tokens: 500,
                  cache_read_input_tokens: 2_000,
                },
              },
            },
          ],
          [
            'message_delta',
            { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 40 } },
          ],
          ['message_stop', { type: 'message_stop' }],
        ]),
        { spec: makeSpec({ provider: 'anthropic' }), created: 1, fallbackId: 'x' },
      ),
    );
    const expected = {
      prompt_tokens: 2_525,
      completion_tokens: 40,
      total_tokens: 2_565,
      prompt_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 500 },
    };
    assert.deepEqual(completion.usage, expected);
    assert.deepEqual(streamed, expected);
    // The Messages front door gives the client Anthropic's own numbers back.
    assert.deepEqual(messagesUsage(completion.usage), usage);
    // The Responses front door speaks OpenAI's semantics: input includes the cached part.
    assert.deepEqual(responseUsage(completion.usage), {
      input_tokens: 2_525,
      input_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 500 },
      output_tokens: 40,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 2_565,
    });
  });
});

describe('Gemini: cachedContentTokenCount is already inside promptTokenCount', () => {
  const metadata = {
    promptTokenCount: 10_000,
    cachedContentTokenCount: 8_000,
    candidatesTokenCount: 50,
    thoughtsTokenCount: 20,
    totalTokenCount: 10_070,
  };

  test('reported as is, never added', () => {
    assert.deepEqual(toUsage(metadata), {
      prompt_tokens: 10_000,
      completion_tokens: 70,
      total_tokens: 10_070,
      completion_tokens_details: { reasoning_tokens: 20 },
      prompt_tokens_details: { cached_tokens: 8_000 },
    });
  });

  test('non-streaming and streaming agree, and the Messages front door shows 2,000 uncached', async () => {
    const completion = geminiCompletion(
      {
        candidates: [{ content: { parts: [{ text: 'hi' }] }, finishReason: 'STOP' }],
        usageMetadata: metadata,
      },
      geminiContext,
    );
    const streamed = await lastUsage(
      toChunkStream(
        sse([
          [
            undefined,
            {
              candidates: [{ content: { parts: [{ text: 'hi' }] }, finishReason: 'STOP' }],
              usageMetadata: metadata,
            },
          ],
        ]),
        geminiContext,
      ),
    );
    assert.deepEqual(streamed, completion.usage);
    assert.deepEqual(messagesUsage(completion.usage), {
      input_tokens: 2_000,
      output_tokens: 70,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 8_000,
    });
  });

  test('no cache: no cache details', () => {
    assert.deepEqual(toUsage({ promptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 10 }), {
      prompt_tokens: 7,
      completion_tokens: 3,
      total_tokens: 10,
    });
  });
});

describe('OpenAI semantics through the front doors', () => {
  test('cached_tokens inside prompt_tokens: the Messages door subtracts them, the Responses door keeps them', () => {
    const usage = {
      prompt_tokens: 2_006,
      completion_tokens: 300,
      total_tokens: 2_306,
      prompt_tokens_details: { cached_tokens: 1_920 },
    };
    assert.deepEqual(messagesUsage(usage), {
      input_tokens: 86,
      output_tokens: 300,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1_920,
    });
    assert.equal(responseUsage(usage)?.input_tokens, 2_006);
    assert.equal(responseUsage(usage)?.input_tokens_details.cached_tokens, 1_920);
  });
});
