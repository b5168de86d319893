#!/usr/bin/env node
// `npm run bench`: what the gateway costs. Starts a fake instant upstream, the bare Node.js
// passthrough proxy, the parse proxy (reads and re-writes every JSON body and stream chunk) and
// Switchyard (each in its own process, 127.0.0.1 only), drives them with
// autocannon from another process, and reports throughput, latency, time to first chunk, RSS,
// a memory soak, a CPU profile of Switchyard and the routing micro-benchmark.
// Human tables on stdout; everything in bench/results/latest.json. See bench/README.md.
//
// Environment (defaults in brackets):
//   BENCH_DURATION [5]      seconds per load run        BENCH_ROUNDS [3]   interleaved rounds
//   BENCH_CONNECTIONS [10,50]                           BENCH_WARMUP [2]   seconds per target
//   BENCH_LATENCY_N [200]   sequential requests per target and round (unloaded latency, TTFB)
//   BENCH_SOAK [1000000]    Switchyard soak requests (0 skips); BENCH_SOAK_STEP [100000]
//   BENCH_PROFILE [10]      seconds of --cpu-prof load per mode (0 skips)
//   BENCH_ROUTING [1]       run bench/routing.bench.ts if present, compiled as the server is (0 skips)
//   BENCH_FAULT_SOAK [1]    memory under faults, bench/fault-soak.mjs (≈ 70 s; 0 skips)
//   BENCH_QUIET_MAX [10]    before each run, wait up to this many seconds for other processes to
//   BENCH_QUIET_CORES [0.3] use less than this many cores (the machine is shared); 0 disables
//   BENCH_REDIS [1]         also run `switchyard-redis` (shared state in a redis-server of its own;
//                           0 skips; skipped with a note when redis-server is not installed)
//   BENCH_SWITCHYARD [dist] dist: src compiled by bench/tsconfig.server-build.json into
//                           node_modules/.cache/switchyard-bench (production form); tsx: the .ts
//                           sources under `node --import tsx` (adds tsx's loader thread, ~40 MB RSS)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { benchRequest, exited, firstMessage, trackedChildren } from '../bench/children.mjs';
import { formatSummary, summarize } from '../bench/cpuprofile-top.mjs';
import { faultSoakSettings, runFaultSoak } from '../bench/fault-soak.mjs';
import { clockTicks, cpuMs, machineBusyMs, rssMB } from '../bench/proc.mjs';
import {
  degradedState,
  redisServerInstalled,
  reportSharedState,
  sharedStateTargets,
  startRedis,
} from '../bench/shared-state.mjs';

const root = new URL('..', import.meta.url).pathname;
const bench = join(root, 'bench');
const resultsDir = join(bench, 'results');

const num = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};
const settings = {
  durationS: num('BENCH_DURATION', 5),
  rounds: Math.max(1, num('BENCH_ROUNDS', 3)),
  connections: (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number).filter(Boolean),
  warmupS: num('BENCH_WARMUP', 2),
  latencyN: num('BENCH_LATENCY_N', 200),
  soak: num('BENCH_SOAK', 1_000_000),
  soakStep: Math.max(1, num('BENCH_SOAK_STEP', 100_000)),
  soakConnections: num('BENCH_SOAK_CONNECTIONS', 50),
  profileS: num('BENCH_PROFILE', 10),
  routing: num('BENCH_ROUTING', 1) !== 0,
  faultSoak: num('BENCH_FAULT_SOAK', 1) !== 0,
  redis: num('BENCH_REDIS', 1) !== 0,
  switchyard: process.env.BENCH_SWITCHYARD === 'tsx' ? 'tsx' : 'dist',
  quietMaxS: num('BENCH_QUIET_MAX', 10),
  quietCores: num('BENCH_QUIET_CORES', 0.3),
};
const targets = {
  rssUnderLoadMB: 150,
  throughputRatio: 0.8,
  addedP50Ms: 1,
  soakGrowth: 0.1,
  // Against the parse proxy (issue 14): the ceiling for a gateway that must read its traffic.
  parse: { throughputRatio: 0.6, cpuRatio: 1.7, addedP50Ms: 0.3 },
  sharedState: sharedStateTargets,
};

// ---------------------------------------------------------------------------------------------
// Request bodies: a short question (the router's simple_qa path), as an OpenAI client sends it.
const plainBody = benchRequest(false);
const streamBody = benchRequest(true);
const modes = { plain: [plainBody], stream: [streamBody] };

// ---------------------------------------------------------------------------------------------
// Switchyard's entry point: compiled (default) or under tsx.
const buildDir = join(root, 'node_modules/.cache/switchyard-bench');

function switchyardEntry() {
  if (settings.switchyard === 'tsx')
    return { args: ['--import', 'tsx', join(bench, 'switchyard-server.ts')] };
  rmSync(buildDir, { recursive: true, force: true });
  const build = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'bench/tsconfig.server-build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  const entry = join(buildDir, 'bench/switchyard-server.js');
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim();
  if (!existsSync(entry)) throw new Error(`could not compile Switchyard for the benchmark:\n${output}`);
  // src/observability/dashboard.ts reads ../../dashboard/ relative to itself.
  symlinkSync(join(root, 'dashboard'), join(buildDir, 'dashboard'));
  const warning =
    build.status === 0
      ? undefined
      : `src has type errors right now (emitted anyway): ${output.split('\n').slice(0, 3).join(' | ')}`;
  return { args: [entry], warning };
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on any exit path.
const { children, killAll, spawnNode } = trackedChildren();
process.on('exit', () => killAll());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark processes`);
    killAll();
    process.exit(130);
  });
}

async function startServer(name, args, env) {
  const child = spawnNode(args, env);
  const ready = await firstMessage(child, name, 60_000);
  // Switchyard's bench server sends the client key's header; every target gets one (see clientHeaders).
  return { name, child, pid: child.pid, url: ready.url, headers: ready.headers };
}

async function stopServer(server, timeoutMs = 15_000) {
  if (!server || server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), timeoutMs);
  await exited(server.child);
  clearTimeout(timer);
}

async function runChild(script, job, timeoutMs) {
  const child = spawnNode([join(bench, script), JSON.stringify(job)]);
  try {
    const result = await firstMessage(child, script, timeoutMs);
    await exited(child);
    if (result.error) throw new Error(`${script}: ${result.error}`);
    return result;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// /proc sampling: RSS (VmRSS) and CPU time (utime + stime) of the server processes.
/** This process's CPU plus its reaped children's (the load generators), ms. */
function ownAndChildrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (
    ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks
  );
}

/** Cores busy with work that is not ours (other engineers' tests) over `ms`. */
async function foreignLoad(servers, ms) {
  const busy = machineBusyMs();
  const own = ownAndChildrenCpuMs();
  const serverCpu = servers.map((server) => cpuMs(server.pid) ?? 0);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const elapsed = performance.now() - started;
  const ours =
    ownAndChildrenCpuMs() -
    own +
    servers.reduce((sum, server, i) => sum + (cpuMs(server.pid) ?? 0) - serverCpu[i], 0);
  return Math.max(0, (machineBusyMs() - busy - ours) / elapsed);
}

/** Wait (up to BENCH_QUIET_MAX seconds) until other work leaves the machine nearly idle. */
async function waitForQuiet(servers) {
  const deadline = performance.now() + settings.quietMaxS * 1000;
  let other = await foreignLoad(servers, 500);
  while (other > settings.quietCores && performance.now() < deadline) other = await foreignLoad(servers, 500);
  return other;
}

/**
 * Sample RSS of `servers` every 200 ms while `work` runs; CPU time from start to end, of each
 * server and of everything else on the machine (foreign load: other engineers' processes).
 */
async function sampled(servers, work) {
  const quietBefore = settings.quietMaxS > 0 ? await waitForQuiet(servers) : undefined;
  const rss = Object.fromEntries(servers.map((server) => [server.name, []]));
  const cpuStart = Object.fromEntries(servers.map((server) => [server.name, cpuMs(server.pid)]));
  const busyStart = machineBusyMs();
  const ownStart = ownAndChildrenCpuMs();
  const started = performance.now();
  const sample = () => {
    for (const server of servers) {
      const value = rssMB(server.pid);
      if (value !== undefined) rss[server.name].push(value);
    }
  };
  sample();
  const timer = setInterval(sample, 200);
  try {
    const result = await work();
    sample();
    const elapsed = performance.now() - started;
    const usage = { quietBefore };
    let ours = ownAndChildrenCpuMs() - ownStart;
    for (const server of servers) {
      const samples = rss[server.name];
      usage[server.name] = {
        rssMaxMB: samples.length ? Math.max(...samples) : undefined,
        rssMeanMB: samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : undefined,
        cpuMs: cpuMs(server.pid) - cpuStart[server.name],
      };
      ours += usage[server.name].cpuMs;
    }
    usage.foreignCores = Math.max(0, (machineBusyMs() - busyStart - ours) / elapsed);
    return { result, usage };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.
/** Non-2xx, socket errors, timeouts and 200s with an incomplete body. */
const failuresOf = (run) => run.non2xx + run.errors + run.timeouts + (run.mismatches ?? 0);
const median = (values) => {
  const list = values.filter((value) => typeof value === 'number' && Number.isFinite(value));
  if (list.length === 0) return undefined;
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value, digits = 2) => (value === undefined || value === null ? '—' : value.toFixed(digits));
const signed = (value, digits = 2) =>
  value === undefined ? '—' : `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
const pad = (text, width) => String(text).padStart(width);
const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
const log = (line) => console.log(line);
const nowS = () => performance.now() / 1000;

/**
 * Request headers per target. Switchyard requires its virtual key; the proxies and the upstream
 * get the main Switchyard's header too (they ignore it), so every target reads the same bytes.
 */
let clientHeaders = {};
const headersOf = (server) => server.headers ?? clientHeaders;

async function sanityCheck(server) {
  const plain = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headersOf(server) },
    body: plainBody,
  });
  const plainText = await plain.text();
  if (plain.status !== 200 || !plainText.includes('"choices"'))
    throw new Error(`${server.name}: non-streaming answer ${plain.status}: ${plainText.slice(0, 200)}`);
  const stream = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headersOf(server) },
    body: streamBody,
  });
  const streamText = await stream.text();
  const events = streamText.split('\n\n').filter((event) => event.startsWith('data:')).length;
  if (stream.status !== 200 || !streamText.trimEnd().endsWith('data: [DONE]') || events < 21)
    throw new Error(`${server.name}: streaming answer ${stream.status}: ${streamText.slice(0, 200)}`);
  return { plainModel: plain.headers.get('x-switchyard-model'), streamEvents: events };
}

function gitState() {
  const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim();
  return { commit: git('rev-parse', '--short', 'HEAD'), dirtySrc: git('status', '--short', 'src') || '' };
}

function machine() {
  const sh = (command) => {
    try {
      return execFileSync('sh', ['-c', command], { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    date: new Date().toISOString(),
    nproc: Number(sh('nproc')) || cpus().length,
    cpuModel: cpus()[0]?.model,
    memTotalGB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: sh('uname -r'),
    loadavgStart: load(),
  };
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const info = machine();
  const results = {
    settings,
    machine: info,
    git: gitState(),
    targets,
    runs: [],
    latency: [],
    soak: undefined,
  };
  log(`Switchyard benchmark — ${info.date}`);
  log(
    `machine: ${info.nproc} cpu (${info.cpuModel}), ${info.memTotalGB} GB, node ${info.node}; load average ${info.loadavgStart}`,
  );
  log(
    `settings: ${settings.rounds} rounds × ${settings.durationS} s, connections ${settings.connections.join('/')}, ` +
      `latency n=${settings.latencyN}, soak ${settings.soak.toLocaleString('en')} (step ${settings.soakStep.toLocaleString('en')}), profile ${settings.profileS} s`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  mkdirSync(resultsDir, { recursive: true });
  const entry = switchyardEntry();
  results.buildWarning = entry.warning;
  log(`switchyard: ${settings.switchyard === 'tsx' ? 'src/ under tsx' : `compiled to ${buildDir}`}`);
  if (entry.warning) log(`  warning: ${entry.warning}`);
  let upstream;
  let bare;
  let parse;
  let switchyard;
  let redis;
  let switchyardRedis;
  try {
    upstream = await startServer('upstream', [join(bench, 'upstream.mjs')]);
    const upstreamEnv = { UPSTREAM_URL: upstream.url };
    bare = await startServer('bare', [join(bench, 'bare-proxy.mjs')], upstreamEnv);
    parse = await startServer('parse', [join(bench, 'parse-proxy.mjs')], upstreamEnv);
    switchyard = await startServer('switchyard', ['--expose-gc', ...entry.args], {
      ...upstreamEnv,
      BENCH_TMP: join(tmp, 'switchyard'),
    });
    clientHeaders = switchyard.headers ?? {};
    const servers = [upstream, bare, parse, switchyard];
    const direct = { ...upstream, name: 'direct' };
    const targetList = [direct, bare, parse, switchyard];
    if (settings.redis && !redisServerInstalled()) {
      results.redis = { skipped: 'redis-server is not installed (apt-get install redis-server)' };
      log(`  switchyard-redis skipped: ${results.redis.skipped}`);
    } else if (settings.redis) {
      redis = await startRedis(join(tmp, 'redis'), (child) => {
        children.add(child);
        child.once('exit', () => children.delete(child));
      });
      switchyardRedis = await startServer('switchyard-redis', ['--expose-gc', ...entry.args], {
        ...upstreamEnv,
        BENCH_TMP: join(tmp, 'switchyard-redis'),
        BENCH_REDIS_URL: redis.url,
      });
      servers.push(switchyardRedis, redis);
      targetList.push(switchyardRedis);
      results.redis = { url: redis.url, version: redis.version };
    }
    results.targetNames = targetList.map((server) => server.name);
    for (const server of targetList) {
      const check = await sanityCheck(server);
      log(
        `  ${server.name.padEnd(10)} ${server.url}  ok (stream: ${check.streamEvents} events${check.plainModel ? `, routed to ${check.plainModel}` : ''})`,
      );
    }

    // Warm-up: JIT, pools, SQLite pages. Discarded.
    if (settings.warmupS > 0) {
      log(`\nwarm-up: ${settings.warmupS} s per target and mode`);
      for (const server of targetList)
        for (const bodies of Object.values(modes))
          await runChild(
            'loadgen.mjs',
            {
              url: server.url,
              headers: headersOf(server),
              bodies,
              connections: 50,
              duration: settings.warmupS,
            },
            settings.warmupS * 1000 + 60_000,
          );
    }

    // Load runs, interleaved: the target order rotates each round so drift hits all alike.
    const total =
      settings.rounds * Object.keys(modes).length * settings.connections.length * targetList.length;
    log(`\nload: ${total} runs of ${settings.durationS} s (load average ${load()})`);
    let done = 0;
    for (let round = 0; round < settings.rounds; round++) {
      for (const [mode, bodies] of Object.entries(modes)) {
        for (const connections of settings.connections) {
          for (const server of rotate(targetList, round)) {
            const redisBefore = server === switchyardRedis ? await redis.counters() : undefined;
            const { result, usage } = await sampled(servers, () =>
              runChild(
                'loadgen.mjs',
                {
                  url: server.url,
                  headers: headersOf(server),
                  bodies,
                  connections,
                  duration: settings.durationS,
                },
                settings.durationS * 1000 + 60_000,
              ),
            );
            const serverUsage = usage[server.name === 'direct' ? 'upstream' : server.name];
            const run = {
              round,
              mode,
              connections,
              target: server.name,
              rps: result.rps,
              latencyMs: result.latencyMs,
              ok: result.ok,
              non2xx: result.non2xx,
              errors: result.errors,
              timeouts: result.timeouts,
              mismatches: result.mismatches,
              rssMaxMB: serverUsage.rssMaxMB,
              cpuUsPerRequest: (serverUsage.cpuMs * 1000) / Math.max(1, result.ok + result.non2xx),
              cpuCores: serverUsage.cpuMs / 1000 / result.durationS,
              upstreamRssMaxMB: usage.upstream.rssMaxMB,
              foreignCores: usage.foreignCores,
              foreignCoresBefore: usage.quietBefore,
              loadavg: load(),
            };
            if (server === switchyardRedis) {
              const requests = Math.max(1, result.ok + result.non2xx);
              const redisAfter = await redis.counters();
              run.redisScriptsPerRequest = (redisAfter.scripts - redisBefore.scripts) / requests;
              // Less the INFO that read the counters before.
              run.redisCommandsPerRequest = (redisAfter.commands - redisBefore.commands - 1) / requests;
              run.redisCpuUsPerRequest = (usage.redis.cpuMs * 1000) / requests;
            }
            results.runs.push(run);
            done++;
            const bad = failuresOf(run);
            log(
              `  [${pad(done, 2)}/${total}] r${round + 1} ${mode.padEnd(6)} c=${pad(connections, 3)} ${server.name.padEnd(10)} ` +
                `${pad(run.rps.toFixed(0), 6)} req/s  p50 ${fmt(run.latencyMs.p50)} ms  p99 ${fmt(run.latencyMs.p99)} ms  ` +
                `cpu ${fmt(run.cpuCores)} cores  rss ${fmt(run.rssMaxMB, 0)} MB  other load ${fmt(run.foreignCores)} cores` +
                `${bad ? `  FAILURES ${bad}` : ''}`,
            );
          }
        }
      }
    }

    // Unloaded latency and time to first chunk: one connection per target, sequential requests,
    // the targets interleaved request by request (a paired comparison on a shared machine).
    if (settings.latencyN > 0) {
      log(
        `\nunloaded latency: ${settings.latencyN} sequential requests per target, mode and round, targets taking turns in blocks of 10`,
      );
      for (let round = 0; round < settings.rounds; round++) {
        const order = rotate(targetList, round);
        const { result, usage } = await sampled(servers, () =>
          runChild(
            'latency-client.mjs',
            {
              targets: order.map((server) => ({
                name: server.name,
                url: server.url,
                headers: headersOf(server),
              })),
              n: settings.latencyN,
              warmup: 30,
              plainBody,
              streamBody,
            },
            600_000,
          ),
        );
        for (const entry of result.results) {
          if (entry.error) throw new Error(`unloaded latency, ${entry.name}: ${entry.error}`);
          results.latency.push({ round, target: entry.name, ...entry, foreignCores: usage.foreignCores });
          log(
            `  r${round + 1} ${entry.name.padEnd(16)} plain p50 ${fmt(entry.plainTotal.p50, 3)} ms  ` +
              `TTFB p50 ${fmt(entry.streamTtfb.p50, 3)} ms`,
          );
        }
        log(`  r${round + 1} other load ${fmt(usage.foreignCores)} cores`);
      }
    }

    if (switchyardRedis) {
      results.redis.degradedAtEnd = await degradedState(switchyardRedis.url);
      await stopServer(switchyardRedis);
      switchyardRedis = undefined;
      await redis.close();
      redis = undefined;
    }

    // Soak: Switchyard alone, plain and streaming requests alternating on every connection.
    if (settings.soak > 0) {
      results.soak = await soak(switchyard, join(tmp, 'switchyard'));
    }
    await stopServer(switchyard);
    switchyard = undefined;

    // CPU profile of Switchyard under load, a fresh process per mode.
    if (settings.profileS > 0) {
      results.profiles = {};
      for (const [mode, bodies] of Object.entries(modes)) {
        results.profiles[mode] = await profile(mode, bodies, upstream, tmp, entry);
      }
    }
  } finally {
    await stopServer(switchyardRedis);
    await redis?.close();
    await stopServer(switchyard);
    await stopServer(parse);
    await stopServer(bare);
    await stopServer(upstream);
    rmSync(tmp, { recursive: true, force: true });
  }

  if (settings.faultSoak) {
    log('\nmemory under faults: bench/fault-soak.mjs (three upstreams, faults from 10 s)');
    // A failure here is reported with the rest, not instead of it.
    try {
      results.faultSoak = await runFaultSoak({
        entry,
        log,
        settings: { ...faultSoakSettings(), quietMaxS: settings.quietMaxS },
      });
    } catch (error) {
      results.faultSoak = { error: String(error?.stack ?? error) };
      log(`  memory under faults FAILED: ${error?.message ?? error}`);
    }
  }
  if (settings.routing) results.routing = await routingBench();
  results.machine.loadavgEnd = load();

  report(results);
  const out = join(resultsDir, 'latest.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  // Biome checks bench/**: keep the (gitignored) results file in its format.
  spawnSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', out], {
    cwd: root,
    stdio: 'ignore',
  });
  log(`\nresults: ${out}`);
}

async function memoryOf(server) {
  const rss = rssMB(server.pid);
  server.child.send({ type: 'memory' });
  const memory = await firstMessage(server.child, 'switchyard memory', 30_000);
  return {
    rssMB: rss,
    rssAfterGcMB: rssMB(server.pid),
    heapUsedAfterGcMB: memory.heapUsed / 2 ** 20,
    heapTotalMB: memory.heapTotal / 2 ** 20,
    externalMB: memory.external / 2 ** 20,
    arrayBuffersMB: memory.arrayBuffers / 2 ** 20,
    gc: memory.gc,
  };
}

async function soak(server, dataDir) {
  const steps = Math.ceil(settings.soak / settings.soakStep);
  log(
    `\nsoak: ${settings.soak.toLocaleString('en')} requests to Switchyard (plain/stream alternating, ` +
      `${settings.soakConnections} connections), memory every ${settings.soakStep.toLocaleString('en')}`,
  );
  const checkpoints = [{ requests: 0, elapsedS: 0, ...(await memoryOf(server)) }];
  let requests = 0;
  let failures = 0;
  let rssMaxMB = 0;
  const started = nowS();
  for (let step = 0; step < steps; step++) {
    const amount = Math.min(settings.soakStep, settings.soak - requests);
    const { result, usage } = await sampled([server], () =>
      runChild(
        'loadgen.mjs',
        {
          url: server.url,
          headers: headersOf(server),
          bodies: [plainBody, streamBody],
          connections: settings.soakConnections,
          amount,
        },
        3_600_000,
      ),
    );
    requests += result.ok + result.non2xx;
    failures += failuresOf(result);
    rssMaxMB = Math.max(rssMaxMB, usage.switchyard.rssMaxMB ?? 0);
    const checkpoint = {
      requests,
      elapsedS: nowS() - started,
      rps: result.rps,
      rssMaxDuringMB: usage.switchyard.rssMaxMB,
      ...(await memoryOf(server)),
    };
    checkpoints.push(checkpoint);
    log(
      `  ${pad(requests.toLocaleString('en'), 10)} requests  ${pad(checkpoint.rps.toFixed(0), 6)} req/s  ` +
        `rss ${fmt(checkpoint.rssMB, 1)} MB (max during ${fmt(checkpoint.rssMaxDuringMB, 1)})  ` +
        `heap after GC ${fmt(checkpoint.heapUsedAfterGcMB, 1)} MB  (${checkpoint.elapsedS.toFixed(0)} s, load ${load()})`,
    );
  }
  let dbBytes = 0;
  for (const file of existsSync(dataDir) ? readdirSync(dataDir) : [])
    dbBytes += statSync(join(dataDir, file)).size;
  return { requests, failures, rssMaxMB, checkpoints, requestLogBytes: dbBytes };
}

async function profile(mode, bodies, upstream, tmp, entry) {
  const dir = join(tmp, `profile-${mode}`);
  mkdirSync(dir, { recursive: true });
  const mapsFile = join(dir, 'sourcemaps.json');
  const server = await startServer(
    `switchyard-profile-${mode}`,
    ['--cpu-prof', '--cpu-prof-dir', dir, ...entry.args],
    {
      UPSTREAM_URL: upstream.url,
      BENCH_TMP: join(tmp, `switchyard-profile-${mode}`),
      BENCH_SOURCEMAPS_OUT: mapsFile,
    },
  );
  const mark = async () => {
    server.child.send({ type: 'mark' });
    return (await firstMessage(server.child, 'switchyard mark', 30_000)).us;
  };
  try {
    await runChild(
      'loadgen.mjs',
      { url: server.url, headers: headersOf(server), bodies, connections: 50, duration: 2 },
      60_000,
    );
    // The load generator needs a moment to start: the window opens a little after it is spawned.
    const fromUs = (await mark()) + 500_000;
    const profiled = await runChild(
      'loadgen.mjs',
      { url: server.url, headers: headersOf(server), bodies, connections: 50, duration: settings.profileS },
      settings.profileS * 1000 + 60_000,
    );
    const toUs = await mark();
    await stopServer(server, 30_000);
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const maps = existsSync(mapsFile) ? JSON.parse(readFileSync(mapsFile, 'utf8')) : {};
    const cpuProfile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const summary = summarize(cpuProfile, maps, { top: 25, fromUs, toUs });
    // Kept for DevTools / bench/cpuprofile-top.mjs, with the window and (under tsx) the maps.
    const kept = join(resultsDir, `switchyard-${mode}.cpuprofile`);
    if (Object.keys(maps).length > 0) cpuProfile.$sourceMaps = maps;
    cpuProfile.$window = { fromUs, toUs };
    writeFileSync(kept, JSON.stringify(cpuProfile));
    return { file: kept, rpsWhileProfiling: profiled.rps, requests: profiled.ok, ...summary };
  } finally {
    await stopServer(server);
  }
}

async function routingBench() {
  const file = join(bench, 'routing.bench.ts');
  if (!existsSync(file)) return { skipped: 'bench/routing.bench.ts does not exist' };
  // The production form, as Switchyard itself is measured: tsc's output (bench/tsconfig.server-build.json
  // compiles this file too), not tsx's transform, which wraps every named closure in a __name call.
  // main() compiled buildDir (with this file) before any measurement.
  const compiled = join(buildDir, 'bench/routing.bench.js');
  const useCompiled = settings.switchyard !== 'tsx' && existsSync(compiled);
  const args = useCompiled ? [compiled] : ['--import', 'tsx', file];
  log(
    `\nrouting micro-benchmark: node ${useCompiled ? relative(root, compiled) : '--import tsx bench/routing.bench.ts'}`,
  );
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  let output = '';
  child.stdout.on('data', (piece) => {
    output += piece;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  const code = await new Promise((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  children.delete(child);
  const cases = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      cases.push(JSON.parse(line));
    } catch {
      // not a result line
    }
  }
  return { exitCode: code, cases, output };
}

// ---------------------------------------------------------------------------------------------
function report(results) {
  const { runs } = results;
  const cell = (mode, connections, target) => {
    const list = runs.filter((r) => r.mode === mode && r.connections === connections && r.target === target);
    return {
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.latencyMs.p50)),
      p99: median(list.map((r) => r.latencyMs.p99)),
      cpuUs: median(list.map((r) => r.cpuUsPerRequest)),
      cpuCores: median(list.map((r) => r.cpuCores)),
      rssMaxMB: list.length ? Math.max(...list.map((r) => r.rssMaxMB ?? 0)) : undefined,
      foreignCores: median(list.map((r) => r.foreignCores)),
      failures: list.reduce((sum, r) => sum + failuresOf(r), 0),
    };
  };
  const summary = { load: [], latency: {}, checks: [] };
  const check = (name, pass, measured) => summary.checks.push({ name, pass, measured });

  log(`\n${'='.repeat(118)}`);
  log(
    `THROUGHPUT AND LATENCY UNDER LOAD — median of ${results.settings.rounds} rounds × ${results.settings.durationS} s (autocannon, own process)`,
  );
  log(
    'mode   conns target             req/s  p50 ms  p99 ms  +p50 vs direct  +p50 vs bare  +p99 vs bare  +p50 vs parse  vs bare  vs parse  server CPU µs/req  CPU vs bare  CPU vs parse  cores  RSS max MB  other load',
  );
  const percent = (ratio) => (ratio === undefined ? '—' : `${(ratio * 100).toFixed(0)}%`);
  const times = (ratio) => (ratio === undefined ? '—' : `${ratio.toFixed(2)}×`);
  for (const mode of Object.keys(modes)) {
    for (const connections of results.settings.connections) {
      const direct = cell(mode, connections, 'direct');
      const bare = cell(mode, connections, 'bare');
      const parse = cell(mode, connections, 'parse');
      for (const target of results.targetNames ?? ['direct', 'bare', 'parse', 'switchyard']) {
        const c = cell(mode, connections, target);
        const isSwitchyard = target.startsWith('switchyard');
        const row = {
          mode,
          connections,
          target,
          ...c,
          addedP50VsDirectMs: target === 'direct' ? undefined : c.p50 - direct.p50,
          addedP50VsBareMs: isSwitchyard || target === 'parse' ? c.p50 - bare.p50 : undefined,
          addedP99VsBareMs: isSwitchyard || target === 'parse' ? c.p99 - bare.p99 : undefined,
          addedP50VsParseMs: isSwitchyard ? c.p50 - parse.p50 : undefined,
          throughputVsBare: target === 'direct' ? undefined : c.rps / bare.rps,
          throughputVsParse: isSwitchyard ? c.rps / parse.rps : undefined,
          cpuVsBare: isSwitchyard || target === 'parse' ? c.cpuUs / bare.cpuUs : undefined,
          cpuVsParse: isSwitchyard ? c.cpuUs / parse.cpuUs : undefined,
        };
        summary.load.push(row);
        log(
          `${mode.padEnd(6)} ${pad(connections, 5)} ${target.padEnd(16)} ${pad(fmt(c.rps, 0), 7)} ${pad(fmt(c.p50), 7)} ${pad(fmt(c.p99), 7)}` +
            `  ${pad(signed(row.addedP50VsDirectMs), 14)}  ${pad(signed(row.addedP50VsBareMs), 12)}  ${pad(signed(row.addedP99VsBareMs), 12)}` +
            `  ${pad(signed(row.addedP50VsParseMs), 13)}  ${pad(percent(row.throughputVsBare), 7)}  ${pad(percent(row.throughputVsParse), 8)}` +
            `  ${pad(fmt(c.cpuUs, 0), 17)}  ${pad(times(row.cpuVsBare), 11)}  ${pad(times(row.cpuVsParse), 12)}` +
            `  ${pad(fmt(c.cpuCores), 5)}  ${pad(fmt(c.rssMaxMB, 0), 10)}  ${pad(fmt(c.foreignCores), 10)}` +
            `${c.failures ? `  FAILURES ${c.failures}` : ''}`,
        );
      }
    }
  }

  const lat = (target, field, stat) =>
    median(results.latency.filter((r) => r.target === target && r[field]).map((r) => r[field][stat]));
  if (results.latency.length > 0) {
    log(
      `\nUNLOADED LATENCY — 1 connection, ${results.settings.latencyN} sequential requests, median of ${results.settings.rounds} rounds (ms)`,
    );
    log(
      'target            plain p50  plain p99  +p50 vs direct  +p50 vs bare  +p50 vs parse   TTFB p50  TTFB p99  +TTFB vs direct  +TTFB vs bare  +TTFB vs parse  stream total p50',
    );
    for (const target of results.targetNames ?? ['direct', 'bare', 'parse', 'switchyard']) {
      const row = {
        plainP50: lat(target, 'plainTotal', 'p50'),
        plainP99: lat(target, 'plainTotal', 'p99'),
        ttfbP50: lat(target, 'streamTtfb', 'p50'),
        ttfbP99: lat(target, 'streamTtfb', 'p99'),
        streamTotalP50: lat(target, 'streamTotal', 'p50'),
      };
      row.plainAddedVsDirect =
        target === 'direct' ? undefined : row.plainP50 - lat('direct', 'plainTotal', 'p50');
      const overBare = target.startsWith('switchyard') || target === 'parse';
      row.plainAddedVsBare = overBare ? row.plainP50 - lat('bare', 'plainTotal', 'p50') : undefined;
      row.plainAddedVsParse = target.startsWith('switchyard')
        ? row.plainP50 - lat('parse', 'plainTotal', 'p50')
        : undefined;
      row.ttfbAddedVsDirect =
        target === 'direct' ? undefined : row.ttfbP50 - lat('direct', 'streamTtfb', 'p50');
      row.ttfbAddedVsBare = overBare ? row.ttfbP50 - lat('bare', 'streamTtfb', 'p50') : undefined;
      row.ttfbAddedVsParse = target.startsWith('switchyard')
        ? row.ttfbP50 - lat('parse', 'streamTtfb', 'p50')
        : undefined;
      summary.latency[target] = row;
      log(
        `${target.padEnd(16)} ${pad(fmt(row.plainP50, 3), 10)} ${pad(fmt(row.plainP99, 3), 10)}  ${pad(signed(row.plainAddedVsDirect, 3), 14)}  ${pad(signed(row.plainAddedVsBare, 3), 12)}  ${pad(signed(row.plainAddedVsParse, 3), 13)}` +
          `  ${pad(fmt(row.ttfbP50, 3), 9)} ${pad(fmt(row.ttfbP99, 3), 9)}  ${pad(signed(row.ttfbAddedVsDirect, 3), 15)}  ${pad(signed(row.ttfbAddedVsBare, 3), 13)}  ${pad(signed(row.ttfbAddedVsParse, 3), 14)}  ${pad(fmt(row.streamTotalP50, 3), 16)}`,
      );
    }
  }

  if (results.redis?.url) {
    summary.sharedState = reportSharedState(results, {
      cell,
      lat,
      check,
      log,
      fmt,
      signed,
      pad,
      modes: Object.keys(modes),
    });
  }

  const { soak } = results;
  if (soak) {
    log(
      `\nSOAK — Switchyard, ${soak.requests.toLocaleString('en')} requests (${soak.failures} failures), request log ${(soak.requestLogBytes / 2 ** 20).toFixed(1)} MB on disk`,
    );
    log(
      '   requests   req/s  RSS MB  RSS max during step  RSS after GC  heap used after GC  heap total  external MB',
    );
    for (const point of soak.checkpoints)
      log(
        `${pad(point.requests.toLocaleString('en'), 11)} ${pad(point.rps === undefined ? '—' : point.rps.toFixed(0), 7)} ${pad(fmt(point.rssMB, 1), 7)}` +
          ` ${pad(fmt(point.rssMaxDuringMB, 1), 20)} ${pad(fmt(point.rssAfterGcMB, 1), 13)} ${pad(fmt(point.heapUsedAfterGcMB, 1), 19)}` +
          ` ${pad(fmt(point.heapTotalMB, 1), 11)} ${pad(fmt(point.externalMB, 1), 12)}`,
      );
  }

  if (results.profiles) {
    for (const [mode, profile] of Object.entries(results.profiles)) {
      log(
        `\nCPU PROFILE — Switchyard, ${mode}, 50 connections, ${results.settings.profileS} s (${profile.rpsWhileProfiling.toFixed(0)} req/s while profiling) — ${profile.file}`,
      );
      log(
        formatSummary({
          ...profile,
          topSelf: profile.topSelf.slice(0, 15),
          byCategory: profile.byCategory.slice(0, 12),
          topSrcInclusive: profile.topSrcInclusive.slice(0, 15),
        }),
      );
    }
  }

  if (results.routing) {
    log('\nROUTING MICRO-BENCHMARK (bench/routing.bench.ts)');
    log(results.routing.skipped ? `  skipped: ${results.routing.skipped}` : results.routing.output.trimEnd());
  }

  // Targets.
  const sw = summary.load.filter((row) => row.target === 'switchyard');
  for (const row of sw)
    check(
      `throughput ≥ ${targets.throughputRatio * 100}% of bare proxy (${row.mode}, ${row.connections} conns)`,
      row.throughputVsBare >= targets.throughputRatio,
      `${(row.throughputVsBare * 100).toFixed(0)}% (${row.rps.toFixed(0)} vs ${(row.rps / row.throughputVsBare).toFixed(0)} req/s)`,
    );
  for (const row of sw) {
    const bare = summary.load.find(
      (r) => r.target === 'bare' && r.mode === row.mode && r.connections === row.connections,
    );
    const ratio = row.cpuUs / bare.cpuUs;
    check(
      `(supplementary, noise-robust) server CPU per request ≤ ${(1 / targets.throughputRatio).toFixed(2)}× bare proxy's (${row.mode}, ${row.connections} conns)`,
      ratio <= 1 / targets.throughputRatio,
      `${ratio.toFixed(2)}× (${row.cpuUs.toFixed(0)} vs ${bare.cpuUs.toFixed(0)} µs)`,
    );
  }
  for (const row of sw) {
    const parse = targets.parse;
    check(
      `throughput ≥ ${parse.throughputRatio * 100}% of parse proxy (${row.mode}, ${row.connections} conns)`,
      row.throughputVsParse >= parse.throughputRatio,
      `${(row.throughputVsParse * 100).toFixed(0)}% (${row.rps.toFixed(0)} vs ${(row.rps / row.throughputVsParse).toFixed(0)} req/s)`,
    );
    check(
      `server CPU per request ≤ ${parse.cpuRatio}× parse proxy's (${row.mode}, ${row.connections} conns)`,
      row.cpuVsParse <= parse.cpuRatio,
      `${row.cpuVsParse.toFixed(2)}× (${row.cpuUs.toFixed(0)} vs ${(row.cpuUs / row.cpuVsParse).toFixed(0)} µs)`,
    );
  }
  const latency = summary.latency.switchyard;
  if (latency) {
    check(
      `added p50 ≤ ${targets.parse.addedP50Ms} ms over parse proxy, unloaded, non-streaming`,
      latency.plainAddedVsParse <= targets.parse.addedP50Ms,
      `${signed(latency.plainAddedVsParse, 3)} ms`,
    );
    check(
      `added p50 TTFB ≤ ${targets.parse.addedP50Ms} ms over parse proxy, unloaded, streaming`,
      latency.ttfbAddedVsParse <= targets.parse.addedP50Ms,
      `${signed(latency.ttfbAddedVsParse, 3)} ms`,
    );
    check(
      `added p50 < ${targets.addedP50Ms} ms over bare proxy, unloaded, non-streaming`,
      latency.plainAddedVsBare < targets.addedP50Ms,
      `${signed(latency.plainAddedVsBare, 3)} ms`,
    );
    check(
      `added p50 TTFB < ${targets.addedP50Ms} ms over bare proxy, unloaded, streaming`,
      latency.ttfbAddedVsBare < targets.addedP50Ms,
      `${signed(latency.ttfbAddedVsBare, 3)} ms`,
    );
  }
  for (const row of sw.filter((r) => r.connections === Math.min(...results.settings.connections)))
    check(
      `added p50 < ${targets.addedP50Ms} ms over bare proxy under load (${row.mode}, ${row.connections} conns)`,
      row.addedP50VsBareMs < targets.addedP50Ms,
      `${signed(row.addedP50VsBareMs)} ms`,
    );
  const rssUnderLoad = Math.max(...sw.map((row) => row.rssMaxMB ?? 0), soak?.rssMaxMB ?? 0);
  check(
    `Switchyard RSS under load < ${targets.rssUnderLoadMB} MB`,
    rssUnderLoad < targets.rssUnderLoadMB,
    `max ${rssUnderLoad.toFixed(0)} MB`,
  );
  if (soak && soak.checkpoints.length >= 3) {
    // From the first checkpoint after the start (warm) to the end.
    const first = soak.checkpoints[1];
    const last = soak.checkpoints.at(-1);
    const rssGrowth = (last.rssMB - first.rssMB) / first.rssMB;
    const heapGrowthMB = last.heapUsedAfterGcMB - first.heapUsedAfterGcMB;
    const heapGrowth = heapGrowthMB / first.heapUsedAfterGcMB;
    const span = `${first.requests.toLocaleString('en')} → ${last.requests.toLocaleString('en')} requests`;
    const rssValues = soak.checkpoints.slice(1).map((point) => point.rssMB);
    check(
      `RSS flat across the soak (≤ +${targets.soakGrowth * 100}%, ${span})`,
      rssGrowth <= targets.soakGrowth,
      `${first.rssMB.toFixed(1)} → ${last.rssMB.toFixed(1)} MB (${signed(rssGrowth * 100, 1)}%; range ${Math.min(...rssValues).toFixed(0)}–${Math.max(...rssValues).toFixed(0)} MB)`,
    );
    check(
      `JS heap used after a full GC flat across the soak (no leak; ≤ +${targets.soakGrowth * 100}% or 2 MB, ${span})`,
      heapGrowth <= targets.soakGrowth || heapGrowthMB <= 2,
      `${first.heapUsedAfterGcMB.toFixed(1)} → ${last.heapUsedAfterGcMB.toFixed(1)} MB (${signed(heapGrowth * 100, 1)}%)`,
    );
  } else {
    check(
      'RSS flat across the soak',
      undefined,
      soak ? 'not measured (needs BENCH_SOAK ≥ 2 × BENCH_SOAK_STEP)' : 'not run (BENCH_SOAK=0)',
    );
  }
  const failures = results.runs.reduce((sum, r) => sum + failuresOf(r), 0);
  check(
    'no failed requests in the load runs (status, errors, timeouts, incomplete streams)',
    failures === 0,
    `${failures} failed`,
  );
  if (soak) check('no failed requests in the soak', soak.failures === 0, `${soak.failures} failed`);
  const { faultSoak } = results;
  if (faultSoak?.error) {
    check(
      'memory flat under faults (bench/fault-soak.mjs)',
      false,
      `did not run: ${faultSoak.error.split('\n')[0]}`,
    );
  } else if (faultSoak) {
    const missed = faultSoak.checks.filter((item) => item.pass === false).map((item) => item.name);
    check(
      'memory flat under faults (bench/fault-soak.mjs: RSS and post-GC heap slopes, every request answered)',
      faultSoak.valid ? faultSoak.pass : undefined,
      faultSoak.valid
        ? `RSS ${signed(faultSoak.slopes.loadRss)} MB/s, heap ${signed(faultSoak.slopes.loadHeap)} MB/s under load; ${missed.length ? `missed: ${missed.join('; ')}` : 'all checks pass'}`
        : 'inconclusive: the machine was too busy to serve the load',
    );
  }

  log(
    `\nTARGETS (load average at start ${results.machine.loadavgStart}, at end ${results.machine.loadavgEnd})`,
  );
  for (const item of summary.checks)
    log(
      `  ${item.pass === undefined ? 'SKIP' : item.pass ? 'PASS' : 'MISS'}  ${item.name}: ${item.measured}`,
    );
  results.summary = summary;
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  killAll();
  process.exitCode = 1;
});
