import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BreakerTransition, CircuitBreaker } from '../../src/resilience/breaker.ts';
import { VirtualClock } from '../../src/resilience/clock.ts';
import { stateChannels } from '../../src/state/keys.ts';
import { MemoryStore } from '../../src/state/store.ts';
import { makeSpec } from '../helpers/spec.ts';

type BreakerConfig = ReturnType<typeof makeSpec>['breaker'];

function setup(overrides: Partial<BreakerConfig> = {}, shared?: { clock: VirtualClock; store: MemoryStore }) {
  const clock = shared?.clock ?? new VirtualClock();
  const store = shared?.store ?? new MemoryStore(() => clock.now());
  const transitions: BreakerTransition[] = [];
  const config = {
    ...makeSpec().breaker,
    failureThreshold: 3,
    recoveryTimeoutMs: 10_000,
    minRequests: 1000,
    ...overrides,
  };
  const breaker = new CircuitBreaker('m', config, {
    clock,
    store,
    instance: `i${Math.random()}`,
    onTransition: (_target, transition) => transitions.push(transition),
  });
  return { clock, store, breaker, transitions };
}

/** A second instance of the fleet, following the first one's store channel. */
function follower(shared: { clock: VirtualClock; store: MemoryStore }) {
  const other = setup({}, shared);
  shared.store.subscribe(stateChannels.breaker, (message) => {
    const { version, state } = JSON.parse(message);
    other.breaker.apply(state, version);
  });
  return other;
}

describe('circuit breaker', () => {
  it('opens after failure_threshold consecutive failures', async () => {
    const { breaker, transitions } = setup();
    breaker.failure();
    breaker.failure();
    assert.equal(breaker.phase, 'closed');
    breaker.failure();
    assert.equal(breaker.phase, 'open');
    assert.equal(breaker.acquire(), false);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open'],
    );
  });

  it('a success resets the consecutive count', () => {
    const { breaker } = setup();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    assert.equal(breaker.phase, 'closed');
  });

  it('opens on failure rate over the rolling window with a minimum request count', () => {
    const { breaker } = setup({ failureThreshold: 100, failureRate: 0.5, minRequests: 10, windowMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      breaker.success();
      breaker.failure();
    }
    assert.equal(breaker.phase, 'closed', 'only 8 requests: below the minimum');
    breaker.failure();
    breaker.failure(); // 10 requests, 6 failures = 60%
    assert.equal(breaker.phase, 'open');
  });

  it('forgets failures that left the rolling window', async () => {
    const { breaker, clock } = setup({
      failureThreshold: 100,
      failureRate: 0.5,
      minRequests: 4,
      windowMs: 10_000,
    });
    breaker.failure();
    breaker.failure();
    breaker.failure();
    await clock.advance(20_000);
    breaker.success();
    breaker.success();
    breaker.success();
    breaker.failure(); // 1 of 4 in the window
    assert.equal(breaker.phase, 'closed');
  });

  it('OPEN -> HALF_OPEN when recovery_timeout passes (reported then, not at the next request); a trial success closes it', async () => {
    const { breaker, clock, transitions } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(9_999);
    assert.equal(breaker.phase, 'open');
    await clock.advance(1);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open', 'half_open'],
      'the timer reported HALF_OPEN with no request looking',
    );
    assert.equal(breaker.phase, 'half_open');
    assert.equal(await breaker.acquire(), true, 'one trial allowed');
    assert.equal(await breaker.acquire(), false, 'only half_open_max trials at once');
    breaker.success();
    assert.equal(breaker.phase, 'closed');
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open', 'half_open', 'closed'],
    );
  });

  it('reading the phase never changes state or fires events', async () => {
    const { breaker, clock, transitions } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    breaker.close(); // no timer: only reads are left to notice the time passing
    await clock.advance(20_000);
    for (let i = 0; i < 5; i++) assert.equal(breaker.phase, 'half_open');
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open'],
    );
  });

  it('a trial failure re-opens with a growing timeout, capped', async () => {
    const { breaker, clock } = setup({ maxRecoveryTimeoutMs: 25_000 });
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(10_000);
    assert.ok(await breaker.acquire());
    breaker.failure();
    assert.equal(breaker.phase, 'open');
    await clock.advance(19_999);
    assert.equal(breaker.phase, 'open', 'second open lasts 20 s');
    await clock.advance(1);
    assert.ok(await breaker.acquire());
    breaker.failure();
    await clock.advance(24_999);
    assert.equal(breaker.phase, 'open', 'third open capped at 25 s, not 40 s');
    await clock.advance(1);
    assert.equal(breaker.phase, 'half_open');
    assert.ok(await breaker.acquire());
    breaker.success();
    // After a close, the timeout starts small again.
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(10_000);
    assert.equal(breaker.phase, 'half_open');
  });

  it('release() frees a trial slot without judging the model', async () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(10_000);
    assert.ok(await breaker.acquire());
    breaker.release();
    assert.ok(await breaker.acquire(), 'slot is free again');
    assert.equal(breaker.phase, 'half_open');
  });

  it('the shared state is a plain serialisable object in the store', async () => {
    const { breaker, store } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    await new Promise((resolve) => setImmediate(resolve));
    const stored = await store.getVersioned({ name: 'breaker:m' });
    assert.equal((stored?.value as { phase: string } | undefined)?.phase, 'open');
    assert.deepEqual(JSON.parse(JSON.stringify(stored?.value)), stored?.value);
  });

  it('an instance that opens the breaker stops the others; only one sends the half-open trial; its success closes it for all', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(() => clock.now());
    const first = follower({ clock, store });
    const second = follower({ clock, store });
    for (let i = 0; i < 3; i++) first.breaker.failure();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second.breaker.phase, 'open', 'the other instance follows');
    assert.equal(second.transitions.at(-1)?.remote, true);
    await clock.advance(10_000);
    assert.equal(await first.breaker.acquire(), true, 'first takes the trial lease');
    assert.equal(await second.breaker.acquire(), false, 'second may not send a trial too');
    first.breaker.success();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second.breaker.phase, 'closed', 'the trial closed it for the fleet');
    assert.equal(await second.breaker.acquire(), true);
  });
});

describe('circuit breaker in a fleet whose store lost or missed state', () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('after the store lost its record (a Redis restarted empty), transitions reach the fleet again', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(() => clock.now());
    const first = follower({ clock, store });
    const second = follower({ clock, store });
    for (let i = 0; i < 3; i++) first.breaker.failure();
    await clock.advance(10_000);
    assert.equal(await first.breaker.acquire(), true);
    first.breaker.success(); // closed: version 2 in the store and on both instances
    await tick();
    await store.delete({ name: 'breaker:m' });
    await Promise.all([first.breaker.sync(), second.breaker.sync()]); // what the gateway does on recovery
    for (let i = 0; i < 3; i++) first.breaker.failure();
    await tick();
    const stored = await store.getVersioned({ name: 'breaker:m' });
    assert.equal((stored?.value as { phase: string } | undefined)?.phase, 'open', 'written to the store');
    assert.equal(second.breaker.phase, 'open', 'the other instance follows again');
  });

  it('an instance whose breaker is open while the store has no record tells the fleet at re-sync', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(() => clock.now());
    const first = follower({ clock, store });
    for (let i = 0; i < 3; i++) first.breaker.failure();
    await tick();
    await store.delete({ name: 'breaker:m' }); // lost while the others could not hear
    const second = follower({ clock, store });
    await second.breaker.sync();
    assert.equal(second.breaker.phase, 'closed');
    await first.breaker.sync();
    await tick();
    assert.equal(second.breaker.phase, 'open');
  });

  it('a write that lost the race to a re-open adopts the open state instead of keeping its own', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(() => clock.now());
    const first = follower({ clock, store });
    const second = setup({}, { clock, store }); // misses the messages (e.g. its subscriber reconnecting)
    for (let i = 0; i < 3; i++) first.breaker.failure();
    await tick();
    await second.breaker.sync();
    await clock.advance(10_000);
    assert.equal(await first.breaker.acquire(), true);
    first.breaker.failure(); // the trial failed: open again, version 2
    await tick();
    assert.equal(second.breaker.phase, 'half_open', 'second did not hear it');
    assert.equal(await second.breaker.acquire(), true, 'the lease was given back when first re-opened');
    second.breaker.success(); // its trial closes locally, but the store says open
    await tick();
    await tick();
    assert.equal(second.breaker.phase, 'open', 'the more severe news wins');
    assert.equal(second.breaker.state.by, first.breaker.state.by);
  });
});
