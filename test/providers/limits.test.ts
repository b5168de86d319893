/** What the adapters read from an upstream is bounded: a huge answer or an endless SSE line is a bad response, not a full heap. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpClient, maxResponseBytes } from '../../src/providers/http.ts';
import { maxEventChars } from '../../src/providers/sse.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import { guardedClient } from '../helpers/client.ts';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

describe('upstream size limits', () => {
  let upstream: FakeUpstream;
  const http = createHttpClient();
  before(async () => {
    upstream = await startFakeUpstream(async (request, response) => {
      const stream = (request.json as { stream?: boolean }).stream === true;
      if (stream) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const slab = 'y'.repeat(1024 * 1024);
        response.write('data: {"choices":[{"index":0,"delta":{"content":"');
        for (let written = 0; written <= maxEventChars && !response.destroyed; written += slab.length) {
          if (!response.write(slab)) await new Promise((resolve) => response.once('drain', resolve));
        }
        response.end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      const slab = ' '.repeat(1024 * 1024);
      for (let written = 0; written <= maxResponseBytes && !response.destroyed; written += slab.length) {
        if (!response.write(slab)) await new Promise((resolve) => response.once('drain', resolve));
      }
      response.end('{}');
    });
  });
  after(async () => {
    await upstream.close();
    await http.close();
  });

  const client = () =>
    guardedClient(makeSpec({ baseUrl: `${upstream.url}/v1` }), {
      http,
      clock: systemClock,
      nowSeconds: () => 1,
      newId: (prefix) => `${prefix}-1`,
    });
  const request = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('a non-streaming answer over the limit is a bad response', async () => {
    await assert.rejects(
      client().chat(request, callOptions()),
      (error: { kind: string }) => error.kind === 'bad_response',
    );
  });

  it('an SSE event that never ends is a bad response', async () => {
    const result = await client().stream({ ...request, stream: true }, callOptions());
    await assert.rejects(
      (async () => {
        for await (const _chunk of result.chunks) {
          // drain
        }
      })(),
      (error: { kind: string }) => error.kind === 'bad_response',
    );
  });
});
