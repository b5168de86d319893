/** Callbacks after the current turn, many on one setImmediate (issue 14). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { afterTurn } from '../../src/lib/after-turn.ts';

describe('afterTurn', () => {
  it('runs every callback of a turn, in order, after the turn and before a later Immediate', async () => {
    const seen: string[] = [];
    afterTurn(() => seen.push('a'));
    afterTurn(() => seen.push('b'));
    seen.push('sync');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['sync', 'a', 'b']);
    // A callback queued while the queue runs waits for the next turn.
    afterTurn(() => {
      seen.push('c');
      afterTurn(() => seen.push('e'));
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    seen.push('d');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['sync', 'a', 'b', 'c', 'd', 'e']);
  });

  it('a callback that throws does not stop the others; its error is thrown after them', () => {
    const script = `
      import { afterTurn } from './src/lib/after-turn.ts';
      process.on('uncaughtException', (error) => { console.log('uncaught ' + error.message); });
      afterTurn(() => console.log('first'));
      afterTurn(() => { throw new Error('boom'); });
      afterTurn(() => console.log('third'));
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['first', 'third', 'uncaught boom']);
  });
});
