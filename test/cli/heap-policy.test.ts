import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultHeapGrowingPercent, heapPolicy, turnOffPretenuring } from '../../src/cli/heap-policy.ts';

describe('heap policy (how far V8 grows the old generation past the live heap)', () => {
  it('defaults to 50% growth when nothing is set', () => {
    assert.deepEqual(heapPolicy({}, []), { applied: true, percent: defaultHeapGrowingPercent });
    assert.equal(defaultHeapGrowingPercent, 50);
  });

  it('takes SWITCHYARD_HEAP_GROWING_PERCENT, and 0 leaves V8 its own policy', () => {
    assert.deepEqual(heapPolicy({ SWITCHYARD_HEAP_GROWING_PERCENT: '120' }, []), {
      applied: true,
      percent: 120,
    });
    assert.deepEqual(heapPolicy({ SWITCHYARD_HEAP_GROWING_PERCENT: '0' }, []), {
      applied: false,
      reason: 'disabled',
    });
  });

  it('leaves the factor alone when node itself was given it on its command line, either spelling', () => {
    const set = { applied: false, reason: 'set by node flags' };
    assert.deepEqual(heapPolicy({}, ['--heap-growing-percent=30']), set);
    assert.deepEqual(heapPolicy({}, ['--max-old-space-size=512', '--heap_growing_percent', '30']), set);
    // The variable does not override a flag the operator gave node.
    assert.deepEqual(
      heapPolicy({ SWITCHYARD_HEAP_GROWING_PERCENT: '80' }, ['--heap-growing-percent=30']),
      set,
    );
    // Other heap flags do not count as this one.
    assert.deepEqual(heapPolicy({ NODE_OPTIONS: '--max-old-space-size=512' }, ['--max-semi-space-size=32']), {
      applied: true,
      percent: 50,
    });
  });

  it('turns off allocation-site pretenuring unless node was given that flag either way', () => {
    assert.equal(turnOffPretenuring([]), true);
    assert.equal(turnOffPretenuring(['--max-semi-space-size=32', '--heap-growing-percent=30']), true);
    assert.equal(turnOffPretenuring(['--allocation-site-pretenuring']), false);
    assert.equal(turnOffPretenuring(['--no-allocation-site-pretenuring']), false);
    assert.equal(turnOffPretenuring(['--allocation_site_pretenuring']), false);
  });

  it('refuses a value that is not a whole percent from 0 to 1000, naming the variable', () => {
    for (const bad of ['-5', '1.5', 'lots', '5000']) {
      assert.throws(
        () => heapPolicy({ SWITCHYARD_HEAP_GROWING_PERCENT: bad }, []),
        /SWITCHYARD_HEAP_GROWING_PERCENT must be a whole number of percent from 0 to 1000/,
      );
    }
  });

  it('switchyard start exits 1 with that message for a bad value, before listening', () => {
    const result = spawnSync(
      process.execPath,
      [join(process.cwd(), 'bin/switchyard.js'), 'start', '--port', '0'],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          SWITCHYARD_HEAP_GROWING_PERCENT: 'lots',
        },
        timeout: 20_000,
      },
    );
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /SWITCHYARD_HEAP_GROWING_PERCENT must be a whole number/);
    assert.doesNotMatch(result.stdout, /listening/);
  });
});
