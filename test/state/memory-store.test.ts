import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../src/state/store.ts';

describe('MemoryStore', () => {
  it('gets, sets, increments and expires on its clock', async () => {
    let now = 0;
    const store = new MemoryStore(() => now);
    await store.set('breaker:a', { phase: 'open' }, 1000);
    assert.deepEqual(await store.get('breaker:a'), { phase: 'open' });
    assert.equal(await store.increment('rpm:a', 1, 60_000), 1);
    assert.equal(await store.increment('rpm:a', 2, 60_000), 3);
    now = 1000;
    assert.equal(await store.get('breaker:a'), undefined, 'expired');
    now = 60_000;
    assert.equal(await store.increment('rpm:a', 1, 60_000), 1, 'a new window starts after the TTL');
    await store.delete('rpm:a');
    assert.equal(await store.get('rpm:a'), undefined);
  });
});
