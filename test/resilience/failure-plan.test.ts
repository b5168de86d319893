import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FailureKind, UpstreamError } from '../../src/errors.ts';
import { type FailurePolicy, planAfterFailure } from '../../src/resilience/failure-plan.ts';

const policy: FailurePolicy = {
  maxAttemptsPerModel: 2,
  backoffBaseMs: 100,
  backoffMaxMs: 2000,
  maxRetryAfterMs: 2000,
  retrySilent: false,
  fallbackOnContentPolicy: false,
};
const half = () => 0.5;
const plan = (
  kind: FailureKind,
  attempt = 0,
  extra: { retryAfterMs?: number } = {},
  override: Partial<FailurePolicy> = {},
) =>
  planAfterFailure(new UpstreamError(kind, kind, extra), attempt, 60_000, { ...policy, ...override }, half);

describe('what to do after a failure', () => {
  for (const kind of ['server', 'network', 'timeout', 'rate_limited'] as const) {
    it(`${kind}: retry the same model with backoff, then move on`, () => {
      const first = plan(kind, 0);
      assert.equal(first.action, 'retry');
      if (first.action === 'retry') assert.ok(first.delayMs >= 0 && first.delayMs <= 100);
      assert.equal(plan(kind, 1).action, 'next');
    });
  }

  it('backoff grows exponentially (full jitter ceiling) and is capped', () => {
    const many = { maxAttemptsPerModel: 10 };
    const delays = [0, 1, 2, 3, 6].map((attempt) => {
      const result = plan('server', attempt, {}, many);
      return result.action === 'retry' ? result.delayMs : -1;
    });
    assert.deepEqual(delays, [50, 100, 200, 400, 1000]);
  });

  it('429 honours a short Retry-After and moves on from a long one', () => {
    assert.deepEqual(plan('rate_limited', 0, { retryAfterMs: 1500 }), { action: 'retry', delayMs: 1500 });
    assert.deepEqual(plan('rate_limited', 0, { retryAfterMs: 30_000 }), { action: 'next' });
  });

  it('never waits longer than half the time left', () => {
    const result = planAfterFailure(
      new UpstreamError('rate_limited', 'x', { retryAfterMs: 1500 }),
      0,
      2000,
      policy,
      half,
    );
    assert.deepEqual(result, { action: 'next' });
  });

  it('a silent upstream fails over at once unless retry_silent is on', () => {
    assert.deepEqual(plan('silent'), { action: 'next' });
    assert.equal(plan('silent', 0, {}, { retrySilent: true }).action, 'retry');
  });

  it('context length moves only to a larger window', () => {
    assert.deepEqual(plan('context_length'), { action: 'next', onlyLargerWindow: true });
  });

  it('content policy stops unless fallback is configured', () => {
    assert.deepEqual(plan('content_policy'), { action: 'stop' });
    assert.deepEqual(plan('content_policy', 0, {}, { fallbackOnContentPolicy: true }), { action: 'next' });
  });

  it("the client's own fault stops at once", () => {
    assert.deepEqual(plan('invalid_request'), { action: 'stop' });
    assert.deepEqual(plan('cancelled'), { action: 'stop' });
  });

  it('a bad key marks the model unhealthy and moves on', () => {
    assert.deepEqual(plan('auth'), { action: 'next', markUnhealthy: true });
    assert.deepEqual(plan('not_found'), { action: 'next', markUnhealthy: true });
  });

  it('a malformed response moves on without retrying', () => {
    assert.deepEqual(plan('bad_response'), { action: 'next' });
  });
});
