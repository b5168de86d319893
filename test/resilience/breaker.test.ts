import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BreakerTransition, CircuitBreaker } from '../../src/resilience/breaker.ts';
import { VirtualClock } from '../../src/resilience/clock.ts';
import { makeSpec } from '../helpers/spec.ts';

function setup(overrides: Partial<ReturnType<typeof makeSpec>['breaker']> = {}) {
  const clock = new VirtualClock();
  const transitions: BreakerTransition[] = [];
  const config = {
    ...makeSpec().breaker,
    failureThreshold: 3,
    recoveryTimeoutMs: 10_000,
    minRequests: 1000,
    ...overrides,
  };
  const breaker = new CircuitBreaker(
    config,
    () => clock.now(),
    (transition) => transitions.push(transition),
  );
  return { clock, breaker, transitions };
}

describe('circuit breaker', () => {
  it('opens after failure_threshold consecutive failures', () => {
    const { breaker, transitions } = setup();
    breaker.failure();
    breaker.failure();
    assert.equal(breaker.phase, 'closed');
    breaker.failure();
    assert.equal(breaker.phase, 'open');
    assert.equal(breaker.tryAcquire(), false);
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
    const { breaker, clock } = setup({
      failureThreshold: 100,
      failureRate: 0.5,
      minRequests: 10,
      windowMs: 10_000,
    });
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

  it('OPEN -> HALF_OPEN after recovery_timeout; a trial success closes it', async () => {
    const { breaker, clock, transitions } = setup();
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(9_999);
    assert.equal(breaker.phase, 'open');
    await clock.advance(1);
    assert.equal(breaker.phase, 'half_open');
    assert.equal(breaker.tryAcquire(), true, 'one trial allowed');
    assert.equal(breaker.tryAcquire(), false, 'only half_open_max trials at once');
    breaker.success();
    assert.equal(breaker.phase, 'closed');
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open', 'half_open', 'closed'],
    );
  });

  it('a trial failure re-opens with a growing timeout, capped', async () => {
    const { breaker, clock } = setup({ maxRecoveryTimeoutMs: 25_000 });
    for (let i = 0; i < 3; i++) breaker.failure();
    await clock.advance(10_000);
    assert.ok(breaker.tryAcquire());
    breaker.failure();
    assert.equal(breaker.phase, 'open');
    await clock.advance(19_999);
    assert.equal(breaker.phase, 'open', 'second open lasts 20 s');
    await clock.advance(1);
    assert.ok(breaker.tryAcquire());
    breaker.failure();
    await clock.advance(24_999);
    assert.equal(breaker.phase, 'open', 'third open capped at 25 s, not 40 s');
    await clock.advance(1);
    assert.equal(breaker.phase, 'half_open');
    assert.ok(breaker.tryAcquire());
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
    assert.ok(breaker.tryAcquire());
    breaker.release();
    assert.ok(breaker.tryAcquire(), 'slot is free again');
    assert.equal(breaker.phase, 'half_open');
  });

  it('state is a plain serialisable object', () => {
    const { breaker } = setup();
    breaker.failure();
    const copy = JSON.parse(JSON.stringify(breaker.snapshot()));
    assert.equal(copy.consecutiveFailures, 1);
    assert.equal(copy.phase, 'closed');
  });
});
