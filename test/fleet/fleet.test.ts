/**
 * Three gateway processes (`switchyard start`, one config file each) on one real redis-server,
 * in front of one OpenAI-style upstream that records every request it receives: when, for which
 * model, from which instance. They must behave as one gateway:
 * - an `rpm` cap holds for the fleet (overshoot measured), refusals go to the next model or 429;
 * - a breaker opened by one instance stops the others within 1 s;
 * - after the recovery timeout exactly one trial request reaches the upstream, and its success
 *   closes the breaker everywhere;
 * - Redis stopped and restarted under load: every request answered, one warning per instance,
 *   `switchyard_state_degraded` 1 then 0, readiness 200 throughout, breakers shared again after.
 * The steps run in order and build on each other (the trial follows the opened breaker).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { RawConfig } from '../../src/config/schema.ts';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts';
import {
  type Arrival,
  type CountingUpstream,
  chat,
  eventually,
  getText,
  type Instance,
  metric,
  sleep,
  startCountingUpstream,
  startInstance,
  startLoad,
  stopAllLoads,
} from './harness.ts';

const cappedRpm = 8;
const soloRpm = 4;
const recoveryTimeoutS = 3;
const failureThreshold = 3;
/** The upstream's price: 12 tokens a request at $0.01 per 1k. */
const costPerRequest = (12 * 0.01) / 1000;

let redis: RedisServer;
let upstream: CountingUpstream;
let dir: string;
let fleet: Instance[] = [];
let a: Instance;
let b: Instance;
let c: Instance;

function configFor(name: string): RawConfig {
  const model = (id: string, extra: Record<string, unknown> = {}) => ({
    provider: 'openai' as const,
    base_url: `${upstream.url}/v1`,
    api_key: `sk-fleet-${name}`,
    model: id,
    cost_per_1k: 0.01,
    timeout: 5,
    health_check: { enabled: false },
    ...extra,
  });
  return {
    server: { host: '127.0.0.1', port: 0, drain_timeout: 1 },
    models: {
      steady: model('steady'),
      flaky: model('flaky', {
        fallbacks: ['steady'],
        circuit_breaker: {
          failure_threshold: failureThreshold,
          recovery_timeout: recoveryTimeoutS,
          min_requests: 1000,
        },
      }),
      // Opened on one instance while Redis is down (recovery far off, so it stays open).
      fragile: model('fragile', {
        fallbacks: ['steady'],
        circuit_breaker: { failure_threshold: failureThreshold, recovery_timeout: 20, min_requests: 1000 },
      }),
      capped: model('capped', { rpm: cappedRpm, fallbacks: ['steady'] }),
      solo: model('solo', { rpm: soloRpm }),
      // Caps never reached: every request pays one admission in the store.
      metered: model('metered', { rpm: 1_000_000, tpm: 1_000_000_000, fallbacks: ['steady'] }),
      probed: model('probed', { health_check: { enabled: true, interval: 1 } }),
    },
    resilience: { max_attempts_per_model: 1 },
    observability: { log_level: 'warn', request_log: { enabled: false } },
    // A stopped Redis refuses connections at once, so the timeout only guards the healthy steps
    // against a spurious degraded spell on a busy machine (250 ms by default).
    state: { redis: { url: redis.url, prefix: `fleet-test-${process.pid}:`, command_timeout: 1 } },
  } as RawConfig;
}

const arrivalsOf = (model: string, from = 0, to = Number.POSITIVE_INFINITY) =>
  upstream.arrivals.filter((arrival) => arrival.model === model && arrival.at >= from && arrival.at <= to);

const breakerOf = (instance: Instance, model: string) =>
  metric(instance, 'switchyard_breaker_state', { model });

before(async () => {
  redis = await startRedisServer();
  upstream = await startCountingUpstream();
  dir = mkdtempSync(join(tmpdir(), 'switchyard-fleet-'));
  fleet = await Promise.all(
    ['A', 'B', 'C'].map((name) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(configFor(name)));
      return startInstance(name, file);
    }),
  );
  [a, b, c] = fleet as [Instance, Instance, Instance];
});

after(async () => {
  await stopAllLoads();
  await Promise.all(fleet.map((instance) => instance.stop()));
  await upstream?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('three instances on one Redis', () => {
  afterEach(() => stopAllLoads());

  it('an rpm cap holds for the fleet: refusals go to the next model, or 429 with none left', async () => {
    // Bursts spread over the three instances, all in flight at once: the admissions race in Redis.
    const burst = (model: string, perInstance: number) =>
      Promise.all(
        fleet.flatMap((instance) => Array.from({ length: perInstance }, () => chat(instance, model))),
      );
    const withFallback = await burst('capped', 6);
    // Which instance each result came from: 6 per instance in the burst, then one each per round.
    const requestedFrom = (index: number) =>
      index < 18 ? fleet[Math.floor(index / 6)]!.name : fleet[(index - 18) % 3]!.name;
    const alone = await burst('solo', 4);
    // A second wave, one at a time round the fleet: each instance learns the cap from the store.
    for (let round = 0; round < 2; round++) {
      for (const instance of fleet) {
        withFallback.push(await chat(instance, 'capped'));
        alone.push(await chat(instance, 'solo'));
      }
    }
    const cappedReceived = arrivalsOf('capped').length;
    const soloReceived = arrivalsOf('solo').length;
    console.log(
      `rpm cap across 3 instances: capped rpm ${cappedRpm} -> upstream received ${cappedReceived} of ${withFallback.length} (overshoot ${cappedReceived - cappedRpm}); ` +
        `solo rpm ${soloRpm} -> received ${soloReceived} of ${alone.length} (overshoot ${soloReceived - soloRpm})`,
    );
    // All within one 60 s window (this file runs for well under a minute).
    assert.ok(cappedReceived <= cappedRpm + 1, `capped: ${cappedReceived} requests reached the upstream`);
    assert.ok(soloReceived <= soloRpm + 1, `solo: ${soloReceived} requests reached the upstream`);
    assert.ok(cappedReceived >= cappedRpm - 1, 'the cap admits what fits (not fewer)');
    assert.ok(soloReceived >= soloRpm - 1, 'the cap admits what fits (not fewer)');
    // Each instance sent as many as the cap (8): per-instance caps would have refused none.
    for (const instance of fleet) {
      const refused = withFallback.filter(
        (result, index) => result.model === 'steady' && requestedFrom(index) === instance.name,
      );
      assert.ok(refused.length > 0, `${instance.name} was refused too`);
    }

    // Refused with a fallback: answered by it. Refused with none left: 429.
    assert.ok(
      withFallback.every((result) => result.status === 200),
      'every request with a fallback answered',
    );
    assert.equal(withFallback.filter((result) => result.model === 'capped').length, cappedReceived);
    assert.equal(
      withFallback.filter((result) => result.model === 'steady').length,
      withFallback.length - cappedReceived,
    );
    assert.equal(alone.filter((result) => result.status === 200).length, soloReceived);
    assert.equal(alone.filter((result) => result.status === 429).length, alone.length - soloReceived);

    // Spend goes through the store: every instance shows the fleet's spend on the capped model.
    await eventually(async () => {
      for (const instance of fleet) {
        const stats = JSON.parse((await getText(instance, '/admin/stats')).text) as {
          models: Array<{ model: string; cost_usd: number; fleet_cost_usd?: number }>;
        };
        const capped = stats.models.find((model) => model.model === 'capped');
        assert.ok(
          Math.abs((capped?.fleet_cost_usd ?? 0) - cappedReceived * costPerRequest) < 1e-6,
          `${instance.name}: fleet_cost_usd ${capped?.fleet_cost_usd}`,
        );
        const fleetMetric = await metric(instance, 'switchyard_fleet_cost_usd', { model: 'capped' });
        assert.ok(
          Math.abs((fleetMetric ?? 0) - cappedReceived * costPerRequest) < 1e-6,
          `${instance.name}: switchyard_fleet_cost_usd ${fleetMetric}`,
        );
      }
    }, 3000);
  });

  it('one instance finds a health probe lease per interval: one probe a second for the fleet, not three', async () => {
    const from = Date.now();
    await sleep(4000);
    const probes = arrivalsOf('probed', from).filter((arrival) => arrival.probe);
    console.log(
      `health probes of one model over 4 s, interval 1 s, 3 instances: ${probes.length} (by ${[...new Set(probes.map((p) => p.instance))].join(', ')})`,
    );
    // Three unshared loops would send about 12; a lease per interval about 4.
    assert.ok(probes.length >= 2 && probes.length <= 6, `${probes.length} probes`);
  });

  let openedAt = 0;

  it('a breaker opened by one instance stops the others sending to that model within 1 s', async () => {
    // Only A's requests fail, so B and C could never open their own breakers: they stop only if
    // they hear of A's.
    upstream.behave('flaky', (arrival) => ({ status: arrival.instance === 'A' ? 500 : 200 }));
    const others = startLoad(
      [
        [b, 'flaky'],
        [c, 'flaky'],
      ],
      15,
    );
    await sleep(300);
    for (let sent = 0; sent < failureThreshold; sent++) {
      const result = await chat(a, 'flaky');
      assert.equal(result.status, 200); // answered by the fallback
      assert.equal(result.model, 'steady');
    }
    const failures = arrivalsOf('flaky').filter((arrival) => arrival.instance === 'A');
    assert.equal(failures.length, failureThreshold);
    // The upstream's answer to the last failure: A's breaker opens after this instant.
    openedAt = failures.at(-1)!.answeredAt!;
    await sleep(1500);
    await others.stop();
    assert.deepEqual(others.lost, []);
    assert.ok(
      arrivalsOf('flaky', openedAt - 300, openedAt).some((arrival) => arrival.instance !== 'A'),
      'B and C were sending to flaky when A opened its breaker',
    );
    const lastFromOthers = arrivalsOf('flaky', openedAt)
      .filter((arrival) => arrival.instance !== 'A')
      .at(-1);
    const stoppedWithinMs = lastFromOthers ? lastFromOthers.at - openedAt : 0;
    const heard = [b, c].map((instance) => {
      const line = instance.logs.find(
        (entry) => entry.msg === 'circuit breaker open' && entry.model === 'flaky' && entry.remote === true,
      );
      return `${instance.name} +${line ? line.time - openedAt : '?'} ms`;
    });
    console.log(
      `shared breaker: B and C sent ${lastFromOthers ? `their last request to flaky ${stoppedWithinMs} ms after` : 'nothing to flaky after'} A's breaker opened; ` +
        `they logged the remote transition at ${heard.join(', ')}`,
    );
    assert.ok(stoppedWithinMs < 1000, `the others still sent ${stoppedWithinMs} ms after`);
    assert.equal(arrivalsOf('flaky', openedAt + 1).filter((arrival) => arrival.instance === 'A').length, 0);
    for (const instance of fleet)
      assert.equal(await breakerOf(instance, 'flaky'), 2, `${instance.name}: open`);
  });

  it('after the recovery timeout one trial request reaches the upstream, and its success closes the breaker for all', async () => {
    assert.ok(openedAt > 0, 'needs the opened breaker of the previous step');
    // The model has recovered; the first request it sees (the trial) is held for 400 ms, so any
    // second trial from another instance would arrive while it is still open.
    let trial: Arrival | undefined;
    upstream.behave('flaky', (arrival) => {
      if (trial) return { status: 200 };
      trial = arrival;
      return { status: 200, delayMs: 400 };
    });
    const load = startLoad(
      fleet.flatMap(
        (instance): Array<[Instance, string]> => [
          [instance, 'flaky'],
          [instance, 'flaky'],
        ],
      ),
      15,
    );
    // Until every instance sends to flaky again after the trial's answer.
    await eventually(
      () => {
        assert.ok(trial?.answeredAt, 'no trial yet');
        const after = arrivalsOf('flaky', trial.answeredAt + 1);
        for (const instance of fleet) {
          assert.ok(
            after.some((arrival) => arrival.instance === instance.name),
            `${instance.name} not sending yet`,
          );
        }
      },
      recoveryTimeoutS * 1000 + 5000,
    );
    await load.stop();
    assert.deepEqual(load.lost, []);
    assert.equal(load.statuses.get(200), load.answered, 'every request answered (by flaky or steady)');
    const { at, answeredAt } = trial!;
    // Nothing reached flaky while it was open (after the second the others had to hear of it),
    // and the trial came after the recovery timeout.
    assert.equal(arrivalsOf('flaky', openedAt + 1000, at - 1).length, 0, 'nothing sent while open');
    assert.ok(at - openedAt >= recoveryTimeoutS * 1000 - 5, `trial after ${at - openedAt} ms`);
    const duringTrial = arrivalsOf('flaky', at, answeredAt!);
    const resumed = fleet.map((instance) => {
      const first = arrivalsOf('flaky', answeredAt! + 1).find(
        (arrival) => arrival.instance === instance.name,
      );
      return `${instance.name} +${first!.at - answeredAt!} ms`;
    });
    console.log(
      `half-open: ${duringTrial.length} request(s) reached flaky while the trial (from ${trial!.instance}) was in flight; ` +
        `after its success each instance sent to flaky again: ${resumed.join(', ')}`,
    );
    assert.equal(duringTrial.length, 1, 'exactly one trial request');
    for (const instance of fleet) {
      const first = arrivalsOf('flaky', answeredAt! + 1).find(
        (arrival) => arrival.instance === instance.name,
      )!;
      assert.ok(first.at - answeredAt! < 1000, `${instance.name} resumed ${first.at - answeredAt!} ms after`);
      assert.equal(await breakerOf(instance, 'flaky'), 0, `${instance.name}: closed`);
    }
  });

  it('Redis stopped and restarted under load: every request answered, one warning each, degraded 1 then 0, ready throughout', async () => {
    upstream.behave('flaky', undefined);
    const load = startLoad(
      fleet.flatMap(
        (instance): Array<[Instance, string]> => [
          [instance, 'steady'],
          [instance, 'metered'],
        ],
      ),
      10,
    );
    await sleep(800);
    const admissionsOf = async (instance: Instance) => ({
      lease: (await metric(instance, 'switchyard_shared_admissions_total', { served: 'lease' })) ?? 0,
      store: (await metric(instance, 'switchyard_shared_admissions_total', { served: 'store' })) ?? 0,
    });
    // The first admissions of each window slot go to Redis whatever the machine's speed; on a busy
    // machine 800 ms may hold little more than those. Enough admissions first (at most 6 s more).
    for (const until = Date.now() + 6000; Date.now() < until; await sleep(100)) {
      const counts = await Promise.all(fleet.map(admissionsOf));
      if (counts.every(({ lease, store }) => lease + store >= 60)) break;
    }
    for (const instance of fleet) {
      assert.equal(await metric(instance, 'switchyard_state_degraded'), 0);
      // Most of the metered model's admissions came from units taken ahead, not a script each.
      const { lease, store } = await admissionsOf(instance);
      assert.ok(
        store > 0 && lease > store,
        `${instance.name}: ${lease} admissions from leases, ${store} by Redis`,
      );
      console.log(`${instance.name}: ${lease} admissions from leases, ${store} by Redis`);
    }
    const downAt = Date.now();
    const sentBeforeDown = load.sent;
    await redis.stop();
    for (const instance of fleet) {
      await eventually(
        async () => assert.equal(await metric(instance, 'switchyard_state_degraded'), 1),
        3000,
      );
    }
    // While degraded, breakers are per instance: A opens fragile's, B and C do not hear of it.
    upstream.behave('fragile', (arrival) => ({ status: arrival.instance === 'A' ? 500 : 200 }));
    for (let sent = 0; sent < failureThreshold; sent++) assert.equal((await chat(a, 'fragile')).status, 200);
    assert.equal(await breakerOf(a, 'fragile'), 2);
    await sleep(1000);
    for (const instance of [b, c]) assert.equal(await breakerOf(instance, 'fragile'), 0);
    for (const instance of fleet) {
      assert.equal(
        (await getText(instance, '/health/readiness')).status,
        200,
        `${instance.name} ready while degraded`,
      );
      const seconds = await metric(instance, 'switchyard_state_degraded_seconds');
      assert.ok(seconds !== undefined && seconds >= 1, `${instance.name} degraded for ${seconds} s`);
    }
    const sentWhileDown = load.sent - sentBeforeDown;
    await redis.start();
    const upAt = Date.now();
    const sentBeforeUp = load.sent;
    for (const instance of fleet) {
      await eventually(
        async () => assert.equal(await metric(instance, 'switchyard_state_degraded'), 0),
        6000,
      );
      assert.equal(await metric(instance, 'switchyard_state_degraded_seconds'), 0);
    }
    const recoveredMs = Date.now() - upAt;
    // Re-sync: the restarted Redis is empty; A's open breaker becomes the fleet's again.
    const recoveredAt = Date.now();
    for (const instance of [b, c]) {
      await eventually(async () => assert.equal(await breakerOf(instance, 'fragile'), 2), 3000);
    }
    const resyncedMs = Date.now() - recoveredAt;
    await sleep(500);
    for (const instance of fleet) {
      assert.equal(
        (await getText(instance, '/health/readiness')).status,
        200,
        `${instance.name} ready after`,
      );
    }
    await load.stop();
    console.log(
      `Redis outage: ${load.sent} requests sent, ${load.answered} answered (${[...load.statuses].map(([status, n]) => `${n}× ${status}`).join(', ')}); ` +
        `${sentWhileDown} sent while Redis was down, ${load.sent - sentBeforeUp} after it started; every instance back on shared state ${recoveredMs} ms after Redis started; ` +
        `B and C had A's fragile breaker (opened while degraded) ${resyncedMs} ms after that`,
    );
    assert.deepEqual(load.lost, []);
    assert.deepEqual(load.serverErrors, []);
    assert.equal(load.answered, load.sent);
    assert.equal(load.statuses.get(200), load.sent);
    assert.ok(sentWhileDown > 30, 'the load ran through the outage');

    for (const instance of fleet) {
      const warnings = instance.logs.filter(
        (line) => line.level >= 40 && line.time >= downAt && !line.msg?.startsWith('circuit breaker'),
      );
      assert.equal(warnings.length, 1, `${instance.name}: ${warnings.map((line) => line.msg).join(' | ')}`);
      assert.match(warnings[0]!.msg ?? '', /shared state unreachable/);
    }
  });

  it('after Redis returned (empty), a breaker opened by one instance reaches the others again', async () => {
    upstream.behave('flaky', (arrival) => ({ status: arrival.instance === 'B' ? 500 : 200 }));
    for (let sent = 0; sent < failureThreshold; sent++) await chat(b, 'flaky');
    const openedByB = arrivalsOf('flaky')
      .filter((arrival) => arrival.instance === 'B')
      .at(-1)!.answeredAt!;
    assert.equal(await breakerOf(b, 'flaky'), 2);
    for (const instance of [a, c]) {
      await eventually(async () => assert.equal(await breakerOf(instance, 'flaky'), 2), 1000);
    }
    console.log(`after the restart: A and C saw B's breaker open within ${Date.now() - openedByB} ms`);
  });
});
