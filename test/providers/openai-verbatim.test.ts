import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openAIChunks } from '../../src/providers/openai/stream.ts';
import type { SseEvent } from '../../src/providers/sse.ts';
import { chatChunkJson, chatCompletionsEncoder, quotedNames } from '../../src/server/event-stream.ts';
import { type ChatCompletionChunk, verbatim } from '../../src/types/openai.ts';

const context = { provider: 'openai', model: 'gw-model' };

async function chunksOf(...data: string[]): Promise<ChatCompletionChunk[]> {
  async function* events(): AsyncGenerator<SseEvent> {
    for (const line of data) yield { event: undefined, data: line };
    yield { event: undefined, data: '[DONE]' };
  }
  const out: ChatCompletionChunk[] = [];
  for await (const chunk of openAIChunks(events(), context, 'gw-model')) out.push(chunk);
  return out;
}

const compact = (content: string, finish: string | null = null) =>
  JSON.stringify({
    id: 'chatcmpl-up1',
    object: 'chat.completion.chunk',
    created: 1764547200,
    model: 'gpt-4o-2024-08-06',
    system_fingerprint: 'fp_ab12',
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
    usage: null,
  });

/** A chunk's JSON with these top-level fields, in this order, then one choice that finishes. */
const lastChunk = (fields: Record<string, unknown>, content: string) =>
  JSON.stringify({ ...fields, choices: [{ index: 0, delta: { content }, finish_reason: 'stop' }] });

describe('OpenAI chunks sent on verbatim (no second JSON.stringify)', () => {
  it("sends the upstream's own bytes with the gateway's id and model, equal to serialising the chunk", async () => {
    const [first, last] = await chunksOf(compact('Par\u00e9 "x" {y}'), compact('', 'stop'));
    for (const chunk of [first!, last!]) {
      assert.ok(chunk[verbatim], 'a compact chunk is kept');
      chunk.id = 'chatcmpl-req_gw'; // as the stream fail-over sets it
      const sent = chatChunkJson(chunk);
      assert.deepEqual(JSON.parse(sent), JSON.parse(JSON.stringify(chunk)));
      assert.match(sent, /^\{"id":"chatcmpl-req_gw","object":"chat\.completion\.chunk",/);
      assert.match(sent, /"model":"gw-model","system_fingerprint":"fp_ab12"/);
      assert.doesNotMatch(sent, /chatcmpl-up1|gpt-4o-2024/);
    }
  });

  it('serialises a chunk whose JSON is not in the compact form, or whose first "model" may be nested', async () => {
    const spaced =
      '{"id": "chatcmpl-up1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]}';
    const head = { object: 'chat.completion.chunk', created: 1 };
    const nested = lastChunk({ id: 'chatcmpl-up1', meta: { model: 'm' }, model: 'm', ...head }, 'b');
    const idLater = lastChunk({ ...head, id: 'chatcmpl-up1', model: 'm' }, 'c');
    const noModel = lastChunk({ id: 'chatcmpl-up1', ...head }, 'd');
    // Two data lines of one event: JSON.parse takes the line break, a client's SSE parser would not.
    const multiLine = `{"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1,"model":"m",\n"choices":[{"index":0,"delta":{"content":"e"},"finish_reason":"stop"}]}`;
    // "model" as the tail of another key, and repeated keys (JSON.parse keeps the last).
    const keyTail = `{"id":"chatcmpl-up1","a\\"model":"m","model":"m","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"content":"f"},"finish_reason":"stop"}]}`;
    const twoModels = `{"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"g"},"finish_reason":"stop"}],"model":"m"}`;
    const twoIds = `{"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"h"},"finish_reason":"stop"}],"id":"chatcmpl-up1"}`;
    for (const data of [spaced, nested, idLater, noModel, multiLine, keyTail, twoModels, twoIds]) {
      const [chunk] = await chunksOf(data);
      assert.equal(chunk![verbatim], undefined, data);
      assert.equal(chatChunkJson(chunk!), JSON.stringify(chunk));
      assert.equal(JSON.parse(chatChunkJson(chunk!)).model, 'gw-model');
      assert.doesNotMatch(chatChunkJson(chunk!), /[\r\n]/);
    }
  });

  it('escapes an id or model that needs it, and keeps a model name that needs escaping upstream', async () => {
    const upstream = lastChunk(
      { id: 'chatcmpl-"q"', object: 'chat.completion.chunk', created: 1, model: 'org/model "v2"' },
      'e',
    );
    const [chunk] = await chunksOf(upstream);
    assert.ok(chunk![verbatim]);
    chunk!.id = 'id with "quotes"';
    assert.deepEqual(JSON.parse(chatChunkJson(chunk!)), JSON.parse(JSON.stringify(chunk)));
  });

  it('is used once: a chunk kept afterwards (for the cache) no longer holds the upstream text', async () => {
    const [chunk] = await chunksOf(compact('once'));
    const first = chatChunkJson(chunk!);
    assert.equal(chunk![verbatim], undefined);
    assert.deepEqual(JSON.parse(chatChunkJson(chunk!)), JSON.parse(first));
  });

  it('a chunk cleared after a change is serialised with the change', async () => {
    const [chunk] = await chunksOf(compact('hello'));
    chunk!.choices[0]!.delta.content = 'changed';
    chunk![verbatim] = undefined;
    assert.equal(JSON.parse(chatChunkJson(chunk!)).choices[0].delta.content, 'changed');
  });

  it("one stream's id and model are serialised once and follow a change (a fail-over's model, another id)", async () => {
    const chunks = await chunksOf(
      compact('a'),
      compact('b'),
      compact('c'),
      compact('d'),
      compact('', 'stop'),
    );
    const quoted = quotedNames();
    chunks.forEach((chunk, i) => {
      chunk.id = i < 4 ? 'chatcmpl-req_gw' : 'chatcmpl-"other"';
      if (i >= 2) chunk.model = 'fallback "model"';
      const expected = JSON.parse(JSON.stringify({ ...chunk, [verbatim]: undefined }));
      assert.ok(chunk[verbatim], 'kept');
      assert.deepEqual(JSON.parse(chatChunkJson(chunk, quoted)), expected, `chunk ${i}`);
    });
    assert.equal(quoted.modelJson, JSON.stringify('fallback "model"'));
    assert.equal(quoted.idJson, JSON.stringify('chatcmpl-"other"'));
    // The encoder keeps its own names per stream: two streams' encoders do not share them.
    const [one, two] = [chatCompletionsEncoder(), chatCompletionsEncoder()];
    const [a, b] = await chunksOf(compact('x'), compact('y', 'stop'));
    a!.id = 'chatcmpl-one';
    b!.id = 'chatcmpl-two';
    assert.equal(JSON.parse(one.push(a!)[0]!.slice(6)).id, 'chatcmpl-one');
    assert.equal(JSON.parse(two.push(b!)[0]!.slice(6)).id, 'chatcmpl-two');
  });
});
