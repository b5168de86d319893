/**
 * A tiny loopback server that answers every request with what the test prepared (JSON, or SSE
 * frames written one by one), so the official SDKs parse the front doors' output over real HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletionChunk } from '../../src/types/openai.ts';

export type Reply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'sse'; frames: string[] };

export interface ReplayServer {
  url: string;
  /** Bodies of the requests received, parsed. */
  requests: Array<{ path: string; headers: Record<string, unknown>; body: unknown }>;
  reply(next: Reply | ((body: unknown) => Reply)): void;
  close(): Promise<void>;
}

export async function startReplayServer(): Promise<ReplayServer> {
  let current: Reply | ((body: unknown) => Reply) = { kind: 'json', body: {} };
  const requests: ReplayServer['requests'] = [];
  const server: Server = createServer(async (incoming, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    requests.push({ path: incoming.url ?? '/', headers: incoming.headers, body });
    const reply = typeof current === 'function' ? current(body) : current;
    if (reply.kind === 'json') {
      response.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
      response.end(JSON.stringify(reply.body));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const frame of reply.frames) response.write(frame);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Parse SSE text into [event, data] pairs (the data JSON-parsed). */
export function parseFrames(
  frames: string[] | string,
): Array<{ event: string; data: Record<string, unknown> }> {
  const text = typeof frames === 'string' ? frames : frames.join('');
  const events: Array<{ event: string; data: Record<string, unknown> }> = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    let event = '';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
  }
  return events;
}

/** Builders for the chunks the gateway pipeline yields. */
export const chunks = {
  base(
    delta: ChatCompletionChunk['choices'][number]['delta'],
    extra: Partial<ChatCompletionChunk['choices'][number]> = {},
  ): ChatCompletionChunk {
    return {
      id: 'chatcmpl-abc123',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o',
      choices: [{ index: 0, delta, finish_reason: null, ...extra }],
    };
  },
  role(): ChatCompletionChunk {
    return chunks.base({ role: 'assistant', content: '' });
  },
  text(text: string): ChatCompletionChunk {
    return chunks.base({ content: text });
  },
  toolStart(index: number, id: string, name: string, args = ''): ChatCompletionChunk {
    return chunks.base({
      tool_calls: [{ index, id, type: 'function', function: { name, arguments: args } }],
    });
  },
  toolArgs(index: number, args: string): ChatCompletionChunk {
    return chunks.base({ tool_calls: [{ index, function: { arguments: args } }] });
  },
  finish(
    reason: ChatCompletionChunk['choices'][number]['finish_reason'],
    extra: Partial<ChatCompletionChunk['choices'][number]> = {},
  ): ChatCompletionChunk {
    return chunks.base({}, { finish_reason: reason, ...extra });
  },
  usage(prompt: number, completion: number, details: Record<string, unknown> = {}): ChatCompletionChunk {
    return {
      id: 'chatcmpl-abc123',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o',
      choices: [],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ...details,
      },
    };
  },
};
