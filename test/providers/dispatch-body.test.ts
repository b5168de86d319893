import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { UpstreamError } from '../../src/errors.ts';
import { DispatchBody } from '../../src/providers/dispatch-body.ts';
import { createHttpClient } from '../../src/providers/http.ts';
import type { CallOptions } from '../../src/providers/types.ts';

const callOptions = (signal: AbortSignal = new AbortController().signal): CallOptions => ({
  signal,
  timeouts: { connectMs: 2000, firstTokenMs: 5000, idleMs: 5000, totalMs: 10_000 },
  requestId: 'req_test',
});
const context = { provider: 'openai', model: 'm' };

/** The part of undici's dispatch controller a body uses, recording what it was asked. */
function fakeController() {
  const calls: string[] = [];
  let paused = false;
  let aborted = false;
  const controller = {
    get paused() {
      return paused;
    },
    get aborted() {
      return aborted;
    },
    get reason() {
      return null;
    },
    pause() {
      paused = true;
      calls.push('pause');
    },
    resume() {
      paused = false;
      calls.push('resume');
    },
    abort(reason: Error) {
      aborted = true;
      calls.push(`abort: ${reason.message}`);
    },
  } satisfies Dispatcher.DispatchController;
  return { controller, calls };
}

describe('DispatchBody', () => {
  it('hands chunks over in order, pauses the socket while the reader is behind, resumes as it catches up', async () => {
    const { controller, calls } = fakeController();
    const body = new DispatchBody(controller);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 6; i++) body.push(chunk); // 384 KB queued: past the 256 KB mark
    assert.deepEqual(calls, ['pause']);
    const read: number[] = [];
    const reading = (async () => {
      for await (const piece of body) read.push(piece.length);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['pause', 'resume'], 'resumed once half the mark was left');
    body.push(Buffer.from('last'));
    body.end();
    await reading;
    assert.deepEqual(read, [...Array(6).fill(64 * 1024), 4]);
    assert.equal(body.destroyed, false);
  });

  it('a failure reaches the waiting reader; a reader that stops early aborts the request once', async () => {
    const first = fakeController();
    const failing = new DispatchBody(first.controller);
    const next = failing.next();
    failing.fail(new Error('socket reset'));
    await assert.rejects(next, /socket reset/);

    const second = fakeController();
    const body = new DispatchBody(second.controller);
    body.push(Buffer.from('a'));
    body.push(Buffer.from('b'));
    for await (const piece of body) {
      assert.equal(piece.toString(), 'a');
      break;
    }
    assert.equal(body.destroyed, true);
    body.fail(new Error('aborted by the reader')); // what undici reports after the abort
    body.destroy();
    assert.deepEqual(second.calls, ['abort: response body destroyed by its reader']);
    assert.deepEqual(await body.next(), { value: undefined, done: true });
  });

  it('text() reads the whole body', async () => {
    const { controller } = fakeController();
    const body = new DispatchBody(controller);
    const text = body.text();
    body.push(Buffer.from('{"error":'));
    body.push(Buffer.from('"x"}'));
    body.end();
    assert.equal(await text, '{"error":"x"}');
  });

  it('an aborted call drops what was read but not yet taken', async () => {
    const { controller } = fakeController();
    const body = new DispatchBody(controller);
    body.push(Buffer.from('data: 1\n\n'));
    body.fail(new Error('attempt timeout'), true);
    await assert.rejects(body.next(), /attempt timeout/);
  });
});

describe('HttpClient.send (streaming calls on dispatch)', () => {
  it('skips an interim 103 Early Hints response and streams the real one', async () => {
    const server = createServer((_request, response) => {
      response.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: {"a":1}\n\n');
      setTimeout(() => response.end('data: [DONE]\n\n'), 5);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = createHttpClient();
    try {
      const { port } = server.address() as AddressInfo;
      const response = await http.send(
        { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: {}, body: '{}' },
        callOptions(),
        context,
      );
      assert.equal(response.status, 200);
      assert.equal(await response.body.text(), 'data: {"a":1}\n\ndata: [DONE]\n\n');
    } finally {
      await http.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('an address that is not a URL is a classified upstream error', async () => {
    const http = createHttpClient();
    try {
      await assert.rejects(
        http.send({ url: 'not a url', headers: {}, body: '{}' }, callOptions(), context),
        (error: unknown) => error instanceof UpstreamError,
      );
      await assert.rejects(
        http.sendText({ url: 'not a url', headers: {}, body: '{}' }, callOptions(), context),
        (error: unknown) => error instanceof UpstreamError,
      );
    } finally {
      await http.close();
    }
  });
});
