import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Cancellation } from '../../src/lib/cancel.ts';

describe('Cancellation', () => {
  it('aborts once, with its reason, running each listener once in the order added', () => {
    const cancel = new Cancellation();
    const calls: string[] = [];
    const first = () => calls.push('first');
    cancel.addEventListener('abort', first);
    cancel.addEventListener('abort', first); // the same listener twice counts once, as on an EventTarget
    cancel.addEventListener('abort', () => calls.push(`second saw ${String(cancel.reason)}`));
    assert.equal(cancel.aborted, false);
    cancel.abort('gone');
    cancel.abort('again');
    assert.equal(cancel.aborted, true);
    assert.equal(cancel.reason, 'gone');
    assert.deepEqual(calls, ['first', 'second saw gone']);
  });

  it('defaults its reason to an AbortError, as AbortController does', () => {
    const cancel = new Cancellation();
    cancel.abort();
    const mine = cancel.reason as DOMException;
    const controller = new AbortController();
    controller.abort();
    const theirs = controller.signal.reason as DOMException;
    assert.equal(mine.name, theirs.name);
    assert.equal(mine.name, 'AbortError');
  });

  it('never runs a removed listener or one added after the abort', () => {
    const cancel = new Cancellation();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    cancel.addEventListener('abort', removed);
    cancel.removeEventListener('abort', removed);
    cancel.removeEventListener('abort', () => {}); // not there: nothing happens
    cancel.abort();
    cancel.addEventListener('abort', () => calls.push('late'));
    assert.deepEqual(calls, []);
  });

  it('a throwing listener does not stop the others or reach the caller; it surfaces as an uncaught error, as on an EventTarget', () => {
    // In a child process: the test runner would take the uncaught error as this test's failure.
    const script = `
      import { Cancellation } from ${JSON.stringify(new URL('../../src/lib/cancel.ts', import.meta.url).href)};
      const cancel = new Cancellation();
      cancel.addEventListener('abort', () => { throw new Error('listener failed'); });
      cancel.addEventListener('abort', () => console.log('second listener ran'));
      try { cancel.abort(); console.log('abort returned'); } catch { console.log('abort threw'); }
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(child.stdout, 'second listener ran\nabort returned\n');
    assert.match(child.stderr, /listener failed/);
    assert.notEqual(child.status, 0);
  });

  it('is accepted by undici as a request signal, and aborting it cancels the request', async () => {
    const { createServer } = await import('node:http');
    const { request } = await import('undici');
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const server = createServer((incoming, response) => {
      response.writeHead(200);
      response.write('first part');
      incoming.socket.once('close', closed); // the body never ends: only a cancel closes it
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const cancel = new Cancellation();
      const answer = await request(`http://127.0.0.1:${port}/`, { signal: cancel as unknown as AbortSignal });
      const reading = answer.body.text().catch((error: unknown) => error);
      cancel.abort(new Error('client gone'));
      const outcome = await reading;
      assert.ok(outcome instanceof Error, 'the body read fails once the signal aborts');
      await requestClosed; // and the upstream connection is closed, not left open
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
