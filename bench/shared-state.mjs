// The `switchyard-redis` target of `npm run bench`: what shared state costs per request. A
// redis-server of the bench's own on a free loopback port (no persistence, as the tests run it),
// Redis's command counter read around each load run (commands per request), and the report of
// Switchyard with `state.redis` against the same Switchyard (same config, the same rpm/tpm caps
// and key limits that never refuse) without Redis.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** Targets (issue 11): under 0.3 ms added at p50 on loopback, no throughput loss beyond 15%. */
export const sharedStateTargets = { addedP50Ms: 0.3, throughputRatio: 0.85 };

export function redisServerInstalled() {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Start redis-server on 127.0.0.1 and a free port; `track(child)` registers it with the bench's
 * kill-on-exit list. Resolves with `{ name: 'redis', child, pid, url, version, counters(), close() }`.
 */
export async function startRedis(dir, track) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve();
      }
    });
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  const info = await client.info('server');
  return {
    name: 'redis',
    child,
    pid: child.pid,
    url,
    version: /redis_version:(\S+)/.exec(info)?.[1],
    /**
     * What Redis has run since it started: `scripts` (EVALSHA/EVAL calls: the store makes every
     * call on the request path, admit, settle and spend, a script), and `commands` (every
     * command, those a script ran included).
     */
    async counters() {
      const stats = await client.info('commandstats');
      let scripts = 0;
      let commands = 0;
      for (const [, name, calls] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        commands += Number(calls);
        if (name === 'evalsha' || name === 'eval') scripts += Number(calls);
      }
      return { scripts, commands };
    },
    async close() {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** `switchyard_state_degraded` and `_seconds` from a gateway's /metrics. */
export async function degradedState(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    degraded: value('switchyard_state_degraded'),
    degradedSeconds: value('switchyard_state_degraded_seconds'),
  };
}

/**
 * The SHARED STATE section: switchyard-redis against switchyard, per mode and connection count
 * (under load) and unloaded. `cell(mode, connections, target)` and `lat(target, field, stat)`
 * are the report's own medians; checks are added with `check(name, pass, measured)`.
 */
export function reportSharedState(results, { cell, lat, check, log, fmt, signed, pad, modes }) {
  const runsOf = (mode, connections) =>
    results.runs.filter(
      (run) => run.target === 'switchyard-redis' && run.mode === mode && run.connections === connections,
    );
  const median = (values) => {
    const list = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (list.length === 0) return undefined;
    const mid = list.length >> 1;
    return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2;
  };
  const rows = [];
  log(
    `\nSHARED STATE — switchyard-redis (state.redis on ${results.redis.url}, redis-server ${results.redis.version}) vs switchyard (same config, no Redis)`,
  );
  log(
    'mode   conns  req/s no Redis  req/s Redis  throughput  +p50 ms  +p99 ms  +CPU µs/req  Redis scripts/req  (commands incl. in scripts)  Redis CPU µs/req',
  );
  for (const mode of modes) {
    for (const connections of results.settings.connections) {
      const plain = cell(mode, connections, 'switchyard');
      const shared = cell(mode, connections, 'switchyard-redis');
      const runs = runsOf(mode, connections);
      const row = {
        mode,
        connections,
        rpsWithout: plain.rps,
        rpsWith: shared.rps,
        throughputRatio: shared.rps / plain.rps,
        addedP50Ms: shared.p50 - plain.p50,
        addedP99Ms: shared.p99 - plain.p99,
        addedCpuUs: shared.cpuUs - plain.cpuUs,
        redisScriptsPerRequest: median(runs.map((run) => run.redisScriptsPerRequest)),
        redisCommandsPerRequest: median(runs.map((run) => run.redisCommandsPerRequest)),
        redisCpuUsPerRequest: median(runs.map((run) => run.redisCpuUsPerRequest)),
      };
      rows.push(row);
      log(
        `${mode.padEnd(6)} ${pad(connections, 5)}  ${pad(fmt(row.rpsWithout, 0), 13)}  ${pad(fmt(row.rpsWith, 0), 11)}  ${pad(`${fmt(row.throughputRatio * 100, 0)}%`, 10)}` +
          `  ${pad(signed(row.addedP50Ms, 3), 7)}  ${pad(signed(row.addedP99Ms, 3), 7)}  ${pad(signed(row.addedCpuUs, 0), 11)}` +
          `  ${pad(fmt(row.redisScriptsPerRequest), 17)}  ${pad(fmt(row.redisCommandsPerRequest, 1), 27)}  ${pad(fmt(row.redisCpuUsPerRequest, 0), 16)}`,
      );
    }
  }
  const unloaded = {
    plainAddedP50Ms: lat('switchyard-redis', 'plainTotal', 'p50') - lat('switchyard', 'plainTotal', 'p50'),
    ttfbAddedP50Ms: lat('switchyard-redis', 'streamTtfb', 'p50') - lat('switchyard', 'streamTtfb', 'p50'),
  };
  if (Number.isFinite(unloaded.plainAddedP50Ms)) {
    log(
      `unloaded (1 connection): +${fmt(unloaded.plainAddedP50Ms, 3)} ms at p50 non-streaming, +${fmt(unloaded.ttfbAddedP50Ms, 3)} ms at p50 time to first chunk`,
    );
  }
  log(
    `degraded at the end: ${results.redis.degradedAtEnd?.degraded} (${results.redis.degradedAtEnd?.degradedSeconds} s): 0 means every run was served on shared state`,
  );

  const { addedP50Ms, throughputRatio } = sharedStateTargets;
  if (Number.isFinite(unloaded.plainAddedP50Ms)) {
    check(
      `shared state: added p50 < ${addedP50Ms} ms, unloaded, non-streaming`,
      unloaded.plainAddedP50Ms < addedP50Ms,
      `${signed(unloaded.plainAddedP50Ms, 3)} ms`,
    );
    check(
      `shared state: added p50 TTFB < ${addedP50Ms} ms, unloaded, streaming`,
      unloaded.ttfbAddedP50Ms < addedP50Ms,
      `${signed(unloaded.ttfbAddedP50Ms, 3)} ms`,
    );
  }
  for (const row of rows) {
    check(
      `shared state: throughput ≥ ${throughputRatio * 100}% of Switchyard without Redis (${row.mode}, ${row.connections} conns)`,
      row.throughputRatio >= throughputRatio,
      `${fmt(row.throughputRatio * 100, 0)}% (${fmt(row.rpsWith, 0)} vs ${fmt(row.rpsWithout, 0)} req/s)`,
    );
  }
  check(
    // With admission leases most admissions need no script of their own: what shows Redis was
    // used is that it ran scripts all along (lease top-ups, refunds, settles) and never degraded.
    'shared state: served on Redis throughout (not degraded at the end, Redis scripts in every run)',
    results.redis.degradedAtEnd?.degraded === 0 && rows.every((row) => row.redisScriptsPerRequest >= 0.01),
    `degraded ${results.redis.degradedAtEnd?.degraded}, ${rows.map((row) => fmt(row.redisScriptsPerRequest)).join(' / ')} scripts per request`,
  );
  return { rows, unloaded };
}
