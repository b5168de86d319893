/**
 * Fake upstreams for the front-door server tests, one per wire format (OpenAI Chat Completions,
 * Anthropic Messages, Gemini generateContent), each answering as the real API does: plain or
 * streamed (as the request asks), a tool call to `get_weather` when tools are offered and no
 * tool result is in the conversation yet, text otherwise (naming the tool result it read).
 */
import type { ServerResponse } from 'node:http';
import type { RawConfig } from '../../src/config/schema.ts';
import {
  type FakeUpstream,
  type RecordedRequest,
  sendJson,
  startFakeUpstream,
  writeSse,
} from '../helpers/fake-upstream.ts';

export type UpstreamKind = 'openai' | 'anthropic' | 'google';
export const upstreamKinds: UpstreamKind[] = ['openai', 'anthropic', 'google'];

/** What a fake answers: a tool call, or text. */
type Answer = { kind: 'tool'; args: string } | { kind: 'text'; text: string };

const toolArgs = '{"city":"Paris"}';

/** The answer the fake gives to this request. */
export function answerFor(kind: UpstreamKind, request: RecordedRequest): Answer {
  const body = (request.json ?? {}) as Record<string, any>;
  const result = toolResultIn(kind, body);
  if (result !== undefined) return { kind: 'text', text: `It is ${result} in Paris.` };
  if (hasTools(body)) return { kind: 'tool', args: toolArgs };
  return { kind: 'text', text: `Hello from ${kind}.` };
}

function hasTools(body: Record<string, any>): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

/** The text of the last tool result, if the conversation ends with one. */
function toolResultIn(kind: UpstreamKind, body: Record<string, any>): string | undefined {
  if (kind === 'openai') {
    const last = body.messages?.at(-1);
    return last?.role === 'tool' ? String(last.content) : undefined;
  }
  if (kind === 'anthropic') {
    const last = body.messages?.at(-1);
    const block = Array.isArray(last?.content)
      ? last.content.find((part: any) => part.type === 'tool_result')
      : undefined;
    if (!block) return undefined;
    return typeof block.content === 'string'
      ? block.content
      : block.content.map((part: any) => part.text).join('');
  }
  const last = body.contents?.at(-1);
  const part = last?.parts?.find((candidate: any) => candidate.functionResponse);
  if (!part) return undefined;
  const response = part.functionResponse.response;
  return String(response.content ?? response.result ?? JSON.stringify(response));
}

export function isStreaming(kind: UpstreamKind, request: RecordedRequest): boolean {
  if (kind === 'google') return request.path.includes(':streamGenerateContent');
  return (request.json as { stream?: boolean } | undefined)?.stream === true;
}

/** Answer a request in `kind`'s wire format. */
export function answer(kind: UpstreamKind, request: RecordedRequest, response: ServerResponse): void {
  const reply = answerFor(kind, request);
  const streaming = isStreaming(kind, request);
  const write = {
    openai: streaming ? openaiStream : openaiJson,
    anthropic: streaming ? anthropicStream : anthropicJson,
    google: streaming ? googleStream : googleJson,
  }[kind];
  write(response, reply);
}

export async function startFake(kind: UpstreamKind): Promise<FakeUpstream> {
  return startFakeUpstream((request, response) => answer(kind, request, response));
}

/** The model entry pointing at a fake of `kind`. */
export function modelFor(
  kind: UpstreamKind,
  upstream: FakeUpstream,
  extra: Record<string, unknown> = {},
): RawConfig['models'][string] {
  return {
    provider: kind,
    base_url: kind === 'openai' ? `${upstream.url}/v1` : upstream.url,
    api_key: `sk-${kind}-secret`,
    model: kind === 'google' ? 'gemini-pro' : `${kind}-model`,
    capabilities: ['tools', 'streaming', 'json'],
    ...extra,
  } as RawConfig['models'][string];
}

/** Words of `text`, kept with their spaces, so a stream has several deltas. */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text];
}

// --- OpenAI Chat Completions ---

const openaiBase = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o' };

export function openaiChunk(delta: Record<string, unknown>, finish: string | null = null): unknown {
  return { ...openaiBase, choices: [{ index: 0, delta, finish_reason: finish }] };
}

function openaiJson(response: ServerResponse, reply: Answer): void {
  const message =
    reply.kind === 'text'
      ? { role: 'assistant', content: reply.text }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: reply.args } },
          ],
        };
  sendJson(response, 200, {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o',
    choices: [
      { index: 0, message, finish_reason: reply.kind === 'text' ? 'stop' : 'tool_calls', logprobs: null },
    ],
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
  });
}

function openaiStream(response: ServerResponse, reply: Answer): void {
  const events: Array<[undefined, unknown]> = [];
  if (reply.kind === 'text') {
    events.push([undefined, openaiChunk({ role: 'assistant', content: '' })]);
    for (const piece of pieces(reply.text)) events.push([undefined, openaiChunk({ content: piece })]);
    events.push([undefined, openaiChunk({}, 'stop')]);
  } else {
    events.push([
      undefined,
      openaiChunk({
        role: 'assistant',
        content: null,
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      }),
    ]);
    for (const piece of [reply.args.slice(0, 5), reply.args.slice(5)]) {
      events.push([undefined, openaiChunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })]);
    }
    events.push([undefined, openaiChunk({}, 'tool_calls')]);
  }
  events.push([
    undefined,
    { ...openaiBase, choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } },
  ]);
  events.push([undefined, '[DONE]']);
  writeSse(response, events);
}

// --- Anthropic Messages ---

function anthropicJson(response: ServerResponse, reply: Answer): void {
  sendJson(response, 200, {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model: 'claude-fake',
    content:
      reply.kind === 'text'
        ? [{ type: 'text', text: reply.text }]
        : [{ type: 'tool_use', id: 'toolu_fake1', name: 'get_weather', input: JSON.parse(reply.args) }],
    stop_reason: reply.kind === 'text' ? 'end_turn' : 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 11, output_tokens: 7 },
  });
}

export function anthropicEvents(reply: Answer): Array<[string, unknown]> {
  const events: Array<[string, unknown]> = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: 'claude-fake',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 11, output_tokens: 1 },
        },
      },
    ],
  ];
  if (reply.kind === 'text') {
    events.push([
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ]);
    for (const piece of pieces(reply.text)) {
      events.push([
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } },
      ]);
    }
  } else {
    events.push([
      'content_block_start',
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_fake1', name: 'get_weather', input: {} },
      },
    ]);
    for (const piece of [reply.args.slice(0, 5), reply.args.slice(5)]) {
      events.push([
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: piece } },
      ]);
    }
  }
  events.push(
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: reply.kind === 'text' ? 'end_turn' : 'tool_use', stop_sequence: null },
        usage: { output_tokens: 7 },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  );
  return events;
}

function anthropicStream(response: ServerResponse, reply: Answer): void {
  writeSse(response, anthropicEvents(reply));
}

// --- Gemini generateContent ---

function googleParts(reply: Answer): unknown[] {
  return reply.kind === 'text'
    ? [{ text: reply.text }]
    : [{ functionCall: { name: 'get_weather', args: JSON.parse(reply.args) } }];
}

function googleJson(response: ServerResponse, reply: Answer): void {
  sendJson(response, 200, {
    candidates: [{ content: { role: 'model', parts: googleParts(reply) }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 7, totalTokenCount: 18 },
    modelVersion: 'gemini-pro',
  });
}

export function googleChunk(parts: unknown[], finish?: string, usage?: unknown): unknown {
  return {
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(finish ? { finishReason: finish } : {}) },
    ],
    ...(usage ? { usageMetadata: usage } : {}),
  };
}

function googleStream(response: ServerResponse, reply: Answer): void {
  const events: Array<[undefined, unknown]> = [];
  if (reply.kind === 'text') {
    for (const piece of pieces(reply.text)) events.push([undefined, googleChunk([{ text: piece }])]);
  } else {
    events.push([undefined, googleChunk(googleParts(reply))]);
  }
  events.push([
    undefined,
    googleChunk([{ text: '' }], 'STOP', {
      promptTokenCount: 11,
      candidatesTokenCount: 7,
      totalTokenCount: 18,
    }),
  ]);
  writeSse(response, events);
}
