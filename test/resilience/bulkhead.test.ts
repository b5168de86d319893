import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bulkhead } from '../../src/resilience/bulkhead.ts';

describe('bulkhead', () => {
  it('grants up to the limit, queues up to the queue limit, refuses beyond', async () => {
    const bulkhead = new Bulkhead(2, 1);
    const signal = new AbortController().signal;
    assert.equal(bulkhead.acquire(signal), true);
    assert.equal(bulkhead.acquire(signal), true);
    const queued = bulkhead.acquire(signal);
    assert.ok(queued instanceof Promise);
    assert.equal(bulkhead.acquire(signal), false, 'queue full: overflow');
    bulkhead.release();
    assert.equal(await queued, true, 'the waiter got the freed slot');
    assert.equal(bulkhead.inUse, 2);
    bulkhead.release();
    bulkhead.release();
    assert.equal(bulkhead.inUse, 0);
  });

  it('a waiter whose request is cancelled leaves the queue', async () => {
    const bulkhead = new Bulkhead(1, 5);
    const controller = new AbortController();
    assert.equal(bulkhead.acquire(controller.signal), true);
    const waiting = bulkhead.acquire(controller.signal);
    controller.abort();
    assert.equal(await waiting, false);
    assert.equal(bulkhead.queued, 0);
    bulkhead.release();
    assert.equal(bulkhead.inUse, 0);
  });
});
