import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { DispatchBody } from '../../src/providers/dispatch-body.ts';

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
});
