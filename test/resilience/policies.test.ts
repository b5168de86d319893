/**
 * Every resilience policy on its own and composed, on a VirtualClock: no sleeps, no wall-clock
 * margins. Operations are plain async functions over a target name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abortReasons, UpstreamError } from '../../src/errors.ts';
import type { CancelSignal } from '../../src/lib/cancel.ts';
import { CircuitBreaker } from '../../src/resilience/breaker.ts';
import { BreakerPolicy } from '../../src/resilience/breaker-policy.ts';
import { Bulkhead, BulkheadPolicy } from '../../src/resilience/bulkhead.ts';
import { flushMicrotasks, VirtualClock } from '../../src/resilience/clock.ts';
import {
  ChainExhausted,
  type ChainOptions,
  type ChainTarget,
  runChain,
} from '../../src/resilience/fallback.ts';
import { HedgeBudget, runHedged } from '../../src/resilience/hedge.ts';
import { AdmissionPolicy, Limiter } from '../../src/resilience/limiter.ts';
import {
  type AttemptContext,
  Lifetime,
  noWork,
  type Operation,
  type Policy,
  TargetSkipped,
  wrap,
} from '../../src/resilience/policy.ts';
import { RequestScope } from '../../src/resilience/request-scope.ts';
import { RetryPolicy } from '../../src/resilience/retry.ts';
import { TimeoutPolicy } from '../../src/resilience/timeout.ts';
import { MemoryStore } from '../../src/state/store.ts';
import { makeSpec } from '../helpers/spec.ts';

const never = new AbortController().signal;

function context(clock: VirtualClock, overrides: Partial<AttemptContext> = {}): AttemptContext {
  return {
    target: 'm',
    signal: never,
    deadline: clock.now() + 60_000,
    attempt: 0,
    hedge: false,
    isLast: true,
    lifetime: new Lifetime(),
    budget: { available: () => true, take: () => {} },
    meter: noWork,
    ...overrides,
  };
}

const serverError = () => new UpstreamError('server', 'boom', { model: 'm' });
const passThrough: Policy = { execute: (operation, attemptContext) => operation(attemptContext) };
const chainOptions = (overrides: Partial<ChainOptions> = {}): ChainOptions => ({
  afterFailure: () => 'next',
  ...overrides,
});

describe('wrap', () => {
  it('composes outermost first', async () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    const tag = (name: string): Policy => ({
      async execute(operation, attemptContext) {
        order.push(`${name}>`);
        const value = await operation(attemptContext);
        order.push(`<${name}`);
        return value;
      },
    });
    await wrap(tag('a'), tag('b'), tag('c')).execute(async () => order.push('call'), context(clock));
    assert.deepEqual(order, ['a>', 'b>', 'c>', 'call', '<c', '<b', '<a']);
  });
});

describe('TimeoutPolicy', () => {
  it('aborts an attempt after its total time, with the attempt-timeout reason', async () => {
    const clock = new VirtualClock();
    let seen: CancelSignal | undefined;
    const run = new TimeoutPolicy(clock, () => 5_000).execute(
      (attemptContext) =>
        new Promise((_resolve, reject) => {
          seen = attemptContext.signal;
          attemptContext.signal.addEventListener('abort', () => reject(attemptContext.signal.reason));
        }),
      context(clock),
    );
    const outcome = run.catch((error: unknown) => error);
    await clock.advance(4_999);
    assert.equal(seen?.aborted, false);
    await clock.advance(1);
    assert.equal(await outcome, abortReasons.attemptTimeout);
  });

  it('is shortened to the request deadline', async () => {
    const clock = new VirtualClock();
    let signal: CancelSignal | undefined;
    await new TimeoutPolicy(clock, () => 60_000).execute(
      async (attemptContext) => {
        signal = attemptContext.signal;
      },
      context(clock, { deadline: 1_000 }),
    );
    await clock.advance(999);
    assert.equal(signal?.aborted, false);
    await clock.advance(1);
    assert.equal(signal?.aborted, true, 'a successful attempt keeps its timer until its lifetime ends');
  });

  it('a successful attempt stops its timer when its lifetime ends well, and aborts its I/O when it ends badly', async () => {
    const clock = new VirtualClock();
    const good = context(clock);
    let goodSignal: CancelSignal | undefined;
    await new TimeoutPolicy(clock, () => 1_000).execute(async (c) => {
      goodSignal = c.signal;
    }, good);
    good.lifetime.end();
    await clock.advance(2_000);
    assert.equal(goodSignal?.aborted, false);
    const bad = context(clock);
    let badSignal: CancelSignal | undefined;
    await new TimeoutPolicy(clock, () => 1_000).execute(async (c) => {
      badSignal = c.signal;
    }, bad);
    bad.lifetime.end(serverError());
    assert.equal(badSignal?.aborted, true);
  });
});

describe('RetryPolicy', () => {
  it('retries after the planned delay on the clock, then gives up with the last failure', async () => {
    const clock = new VirtualClock();
    const attempts: number[] = [];
    const policy = new RetryPolicy(clock, (_error, c) =>
      c.attempt < 2 ? { action: 'retry', delayMs: 100 } : { action: 'next' },
    );
    const run = policy
      .execute(async () => {
        attempts.push(clock.now());
        throw serverError();
      }, context(clock))
      .catch((error: unknown) => error);
    await clock.advance(1_000);
    assert.deepEqual(attempts, [0, 100, 200]);
    assert.ok((await run) instanceof UpstreamError);
  });

  it('does not retry past the request budget', async () => {
    const clock = new VirtualClock();
    let calls = 0;
    const policy = new RetryPolicy(clock, () => ({ action: 'retry', delayMs: 0 }));
    const budget = { used: 0, available: () => budget.used < 2, take: () => budget.used++ };
    const run = policy
      .execute(
        async (c) => {
          calls++;
          c.budget.take();
          throw serverError();
        },
        context(clock, { budget }),
      )
      .catch(() => {});
    await clock.advance(10);
    await run;
    assert.equal(calls, 2);
  });

  it('a target refused before a retry keeps the failure that led to it', async () => {
    const clock = new VirtualClock();
    const first = serverError();
    let calls = 0;
    const policy = new RetryPolicy(clock, () => ({ action: 'retry', delayMs: 0 }));
    const run = policy
      .execute(async () => {
        calls++;
        throw calls === 1 ? first : new TargetSkipped('m', 'circuit breaker open');
      }, context(clock))
      .catch((caught: unknown) => caught);
    await clock.advance(10);
    assert.equal(await run, first);
  });
});

describe('BulkheadPolicy', () => {
  it('holds the slot until the lifetime ends; a full bulkhead skips the target', async () => {
    const clock = new VirtualClock();
    const bulkhead = new Bulkhead(1, 0);
    const policy = new BulkheadPolicy(bulkhead);
    const holder = context(clock);
    await policy.execute(async () => 'stream', holder);
    assert.equal(bulkhead.inUse, 1, 'the stream still holds it');
    await assert.rejects(
      policy.execute(async () => 'x', context(clock)),
      TargetSkipped,
    );
    holder.lifetime.end();
    assert.equal(bulkhead.inUse, 0);
    await policy.execute(async () => 'x', context(clock));
    await assert.rejects(policy.execute(async () => Promise.reject(serverError()), context(clock)));
    assert.equal(bulkhead.inUse, 1, 'the earlier success still holds its slot; the failure released its own');
  });
});

describe('BreakerPolicy', () => {
  function breaker(clock: VirtualClock) {
    const store = new MemoryStore(() => clock.now());
    return new CircuitBreaker(
      'm',
      { ...makeSpec().breaker, failureThreshold: 2 },
      {
        clock,
        store,
        instance: 'i',
        onTransition: () => {},
      },
    );
  }

  it("counts failures that are the target's, skips while open, and judges a stream that breaks later", async () => {
    const clock = new VirtualClock();
    const circuit = breaker(clock);
    const policy = new BreakerPolicy(
      circuit,
      (error) => error instanceof UpstreamError && error.kind === 'server',
    );
    await policy
      .execute(() => Promise.reject(new UpstreamError('invalid_request', 'bad')), context(clock))
      .catch(() => {});
    assert.equal(circuit.phase, 'closed', "the request's own fault does not count");
    const stream = context(clock);
    await policy.execute(async () => 'first token', stream);
    await policy.execute(() => Promise.reject(serverError()), context(clock)).catch(() => {});
    assert.equal(circuit.phase, 'closed');
    stream.lifetime.end(serverError()); // the stream broke midway: a second failure
    assert.equal(circuit.phase, 'open');
    await assert.rejects(
      policy.execute(async () => 'x', context(clock)),
      TargetSkipped,
    );
  });
});

describe('runChain (fallback)', () => {
  const targets = (...names: string[]): ChainTarget[] => names.map((name) => ({ name, policy: passThrough }));

  it('moves down the chain, skips refused targets, and returns the first success with its lifetime', async () => {
    const clock = new VirtualClock();
    const scope = new RequestScope(clock, never, 60_000, 5);
    const operation: Operation<string> = async (c) => {
      if (c.target === 'a') throw serverError();
      if (c.target === 'b') throw new TargetSkipped('b', 'circuit breaker open');
      return `answer from ${c.target}`;
    };
    const opened = await runChain(targets('a', 'b', 'c'), operation, scope, chainOptions());
    assert.equal(opened.value, 'answer from c');
    assert.equal(opened.target, 'c');
    assert.equal(opened.lifetime.isEnded, false, 'the caller ends it');
    scope.close();
  });

  it('stops at once when the caller says the failure is final', async () => {
    const clock = new VirtualClock();
    const scope = new RequestScope(clock, never, 60_000, 5);
    const final = new UpstreamError('invalid_request', 'bad parameter');
    const tried: string[] = [];
    const error = await runChain(
      targets('a', 'b'),
      async (c) => {
        tried.push(c.target);
        throw final;
      },
      scope,
      chainOptions({ afterFailure: () => 'stop' }),
    ).catch((caught: unknown) => caught);
    assert.equal(error, final);
    assert.deepEqual(tried, ['a']);
    scope.close();
  });

  it('an exhausted chain reports every failure and skip; the attempt budget ends it early', async () => {
    const clock = new VirtualClock();
    const scope = new RequestScope(clock, never, 60_000, 2);
    const error = await runChain(
      targets('a', 'b', 'c'),
      async (c) => {
        c.budget.take();
        throw serverError();
      },
      scope,
      chainOptions({ skip: (name) => (name === 'b' ? 'too small' : undefined) }),
    ).catch((caught: unknown) => caught);
    assert.ok(error instanceof ChainExhausted);
    assert.equal(error.failures.length, 2, 'a and c; b skipped');
    assert.deepEqual(
      error.skipped.map((skip) => skip.message),
      ['b: too small'],
    );
    scope.close();
  });
});

describe('runHedged', () => {
  it('starts the rest of the chain after the delay; the first success wins and the loser is cancelled', async () => {
    const clock = new VirtualClock();
    const scope = new RequestScope(clock, never, 60_000, 5);
    const budget = new HedgeBudget(1);
    budget.credit();
    let primarySignal: CancelSignal | undefined;
    const operation: Operation<string> = (c) =>
      c.target === 'slow'
        ? new Promise((_resolve, reject) => {
            primarySignal = c.signal;
            c.signal.addEventListener('abort', () => reject(new UpstreamError('cancelled', 'lost')));
          })
        : clock.sleep(50).then(() => `answer from ${c.target}`);
    let hedged = false;
    const run = runHedged(
      ['slow', 'fast'],
      (chain, branch, hedge) =>
        runChain(
          chain.map((name) => ({ name, policy: passThrough })),
          operation,
          branch,
          chainOptions({ hedge }),
        ),
      scope,
      clock,
      200,
      budget,
      () => {
        hedged = true;
      },
    );
    await clock.advance(199);
    assert.equal(hedged, false);
    await clock.advance(51);
    const opened = await run;
    assert.equal(opened.value, 'answer from fast');
    assert.equal(hedged, true);
    assert.equal(primarySignal?.aborted, true, 'the primary was cancelled');
    assert.equal(budget.available, 0, 'the hedge spent its token');
    scope.close();
  });

  it('without a token no hedge starts: the primary fails over as usual', async () => {
    const clock = new VirtualClock();
    const scope = new RequestScope(clock, never, 60_000, 5);
    const budget = new HedgeBudget(0.05);
    budget.credit();
    const started: string[] = [];
    const run = runHedged(
      ['slow', 'next'],
      (chain, branch, hedge) =>
        runChain(
          chain.map((name) => ({ name, policy: passThrough })),
          async (c) => {
            started.push(c.target);
            await clock.sleep(c.target === 'slow' ? 500 : 10);
            if (c.target === 'slow') throw serverError();
            return c.target;
          },
          branch,
          chainOptions({ hedge }),
        ),
      scope,
      clock,
      100,
      budget,
      () => {},
    );
    await clock.advance(1_000);
    assert.equal((await run).value, 'next');
    assert.deepEqual(started, ['slow', 'next'], 'next only after the primary failed');
    scope.close();
  });

  it('the budget lets hedges take about its share of requests', () => {
    const budget = new HedgeBudget(0.05);
    let hedges = 0;
    for (let i = 0; i < 10_000; i++) {
      budget.credit();
      if (budget.trySpend()) hedges++;
    }
    assert.equal(hedges, 500);
  });
});

describe('AdmissionPolicy', () => {
  it('skips a target over its limit; the refusal is then answered locally until it would admit again', async () => {
    const clock = new VirtualClock(1_000_000);
    const store = new MemoryStore(() => clock.now());
    let storeCalls = 0;
    const admit = store.admit.bind(store);
    store.admit = (admission) => {
      storeCalls++;
      return admit(admission);
    };
    const limiter = new Limiter(store, clock, 'i');
    const policy = new AdmissionPolicy(
      limiter,
      () => ({
        buckets: [{ kind: 'window', key: 'rpm', limit: 2, windowMs: 60_000, amount: 1 }],
        describe: () => 'at its rpm cap',
        settle: () => [],
      }),
      () => {},
    );
    for (let i = 0; i < 2; i++) await policy.execute(async () => 'ok', context(clock));
    const refused = await policy.execute(async () => 'no', context(clock)).catch((error: unknown) => error);
    assert.ok(refused instanceof TargetSkipped);
    assert.equal(refused.reason, 'at its rpm cap');
    // Both admissions are in the 1-s slot of time 0, which counts until 61 s.
    assert.equal(refused.retryAfterMs, 61_000);
    const callsBefore = storeCalls;
    for (let i = 0; i < 5; i++) await policy.execute(async () => 'no', context(clock)).catch(() => {});
    assert.equal(storeCalls, callsBefore, 'refused traffic stays off the store');
    await clock.advance(60_999);
    assert.ok(
      (await policy.execute(async () => 'no', context(clock)).catch((error: unknown) => error)) instanceof
        TargetSkipped,
    );
    await clock.advance(1);
    assert.equal(await policy.execute(async () => 'ok again', context(clock)), 'ok again');
  });

  it('settles the reservation when the lifetime ends', async () => {
    const clock = new VirtualClock(1_000_000);
    const store = new MemoryStore(() => clock.now());
    const limiter = new Limiter(store, clock, 'i');
    const policy = new AdmissionPolicy(
      limiter,
      () => ({
        buckets: [{ kind: 'window', key: 'tpm', limit: 1000, windowMs: 60_000, amount: 800 }],
        describe: () => 'at its tpm cap',
        settle: () => [{ kind: 'window', key: 'tpm', windowMs: 60_000, delta: -700 }],
      }),
      () => {},
    );
    const first = context(clock);
    await policy.execute(async () => 'stream', first);
    assert.equal(await store.windowTotal('tpm', 60_000), 800, 'reserved at admission');
    first.lifetime.end();
    await flushMicrotasks();
    assert.equal(await store.windowTotal('tpm', 60_000), 100, 'settled with what it really used');
  });
});
