#!/usr/bin/env node
/**
 * Where a target's CPU really goes, per request: Linux `perf` samples of on-CPU time (every
 * thread: the event loop, GC helpers, the JIT compiler), attributed to the nearest src/ function
 * (mapped to the .ts line), to V8/kernel categories, and to the nearest JavaScript frame.
 *
 *   node bench/perf-attribution.mjs [--target switchyard|parse|bare] [--mode plain|stream]
 *        [--connections 50] [--seconds 8] [--warmups 3] [--top 30] [--keep FILE.data]
 *
 * Why beside `--cpu-prof`: V8's profiler samples wall time on the main thread, so a syscall
 * during which the process was descheduled (a loopback `writev` that woke the load generator)
 * counts in full, and work on other threads (scavenger tasks, TurboFan) does not count at all.
 * `perf` counts what /proc's CPU time counts, so its per-request total lands near the bench's
 * "server CPU µs/req" (plus perf's own overhead, ~5-15% here).
 *
 * Needs `perf` (Debian: apt-get install linux-perf) and the right to profile the process (root,
 * or kernel.perf_event_paranoid <= 1). The target runs with --perf-basic-prof, so JIT frames
 * have names; V8 may reuse the address of freed code, so a rare frame can be misnamed (a lone
 * node-internal name that owns most of the profile is one). Warm-up runs come first: a target
 * still optimising after its first connections close spends several µs per request in TurboFan
 * (bench/README.md, round 12).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { benchRequest, exited, firstMessage, runLoad, trackedChildren } from './children.mjs';
import { loadMap, shortUrl } from './cpuprofile-top.mjs';
import { buildSwitchyard } from './fault-soak.mjs';
import { cpuMs } from './proc.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values: options } = parseArgs({
  options: {
    target: { type: 'string', default: 'switchyard' },
    mode: { type: 'string', default: 'plain' },
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '8' },
    warmups: { type: 'string', default: '3' },
    top: { type: 'string', default: '30' },
    keep: { type: 'string' },
  },
});
if (!['switchyard', 'parse', 'bare'].includes(options.target)) fail(`--target: switchyard, parse or bare`);
if (!['plain', 'stream'].includes(options.mode)) fail('--mode: plain or stream');
if (spawnSync('perf', ['--version']).error)
  fail('perf is not installed (Debian: apt-get install linux-perf)');

function fail(message) {
  console.error(`perf-attribution: ${message}`);
  process.exit(1);
}

const body = benchRequest(options.mode === 'stream');

const tmp = mkdtempSync(join(tmpdir(), 'switchyard-perf-'));
const { killAll, spawnNode } = trackedChildren();
process.on('exit', () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const upstream = spawnNode([join(root, 'bench/upstream.mjs')]);
const upstreamUrl = (await firstMessage(upstream, 'upstream', 30_000)).url;
// Switchyard compiled as `npm run bench` runs it, into a directory of its own.
const entry =
  options.target === 'switchyard'
    ? buildSwitchyard({ outDir: join(root, 'node_modules/.cache/switchyard-perf') }).args[0]
    : join(root, `bench/${options.target}-proxy.mjs`);
const server = spawnNode(['--perf-basic-prof', entry], {
  UPSTREAM_URL: upstreamUrl,
  BENCH_TMP: join(tmp, 'state'),
});
const ready = await firstMessage(server, options.target, 60_000);

const load = (seconds) =>
  runLoad(spawnNode, {
    url: ready.url,
    headers: ready.headers,
    body,
    connections: Number(options.connections),
    seconds,
  });

for (let i = 0; i < Number(options.warmups); i++) await load(2);
const data = options.keep ?? join(tmp, 'perf.data');
// The recording window sits inside one load run (its connections open before it and close
// after), so neither start-up nor the closing connections' deoptimisations are in it.
const seconds = Number(options.seconds);
const running = load(seconds + 1);
await sleep(500);
const recorder = spawn(
  'perf',
  ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-p', String(server.pid), '-o', data],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
await sleep(200); // perf attaches
const cpuBefore = cpuMs(server.pid);
const windowStart = performance.now();
await sleep(seconds * 1000);
recorder.kill('SIGINT');
const cpuAfter = cpuMs(server.pid);
const windowMs = performance.now() - windowStart;
// V8 reuses the addresses of freed code, and perf names a sample by the last map line for its
// address: the map as it was when the window closed, so later code does not rename earlier samples.
const perfMap = `/tmp/perf-${server.pid}.map`;
const mapAtWindowEnd = join(tmp, 'perf.map');
copyFileSync(perfMap, mapAtWindowEnd);
await new Promise((resolve) => recorder.once('exit', resolve));
const result = await running;
server.kill('SIGKILL');
await exited(server);
copyFileSync(mapAtWindowEnd, perfMap);
// perf report reads the map from /tmp: kept with --keep.
if (!options.keep) process.on('exit', () => rmSync(perfMap, { force: true }));
const requests = (result.rps * windowMs) / 1000;
const cpuPerRequestUs = ((cpuAfter - cpuBefore) * 1000) / requests;

// ---------------------------------------------------------------------------------------------
// perf script: one block per sample, its frames leaf first ("<ip> <symbol> (<dso>)").
const perf = spawn('perf', ['script', '-i', data, '-F', 'tid,pid,ip,sym'], {
  stdio: ['ignore', 'pipe', 'ignore'],
});
const nearestSrc = new Map();
const inclusiveSrc = new Map();
const nearestJs = new Map();
const categories = new Map();
let samples = 0;
const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

const frameNames = new Map();
/** `JS:*name file:///...js:line:col` -> `name src/file.ts:line` (through the build's source maps). */
function frameName(symbol) {
  let name = frameNames.get(symbol);
  if (name !== undefined) return name;
  name = symbol;
  const match = symbol.match(/^JS:[*^~+]?(.*?) ?((?:file:\/\/|\/|node:)\S*):(\d+):(\d+)$/);
  if (match) {
    const [, fn, where, line, column] = match;
    const url = where.startsWith('/') ? `file://${where}` : where;
    let file = shortUrl(url).replace(/^.*node_modules\/(?!\.cache)/, 'npm:');
    let at = Number(line);
    const map = url.startsWith('file://') ? loadMap(url, {}) : undefined;
    const entry = map?.findEntry(at - 1, Number(column) - 1);
    if (entry?.originalSource) {
      file = shortUrl(new URL(entry.originalSource, url).href);
      at = entry.originalLine + 1;
    }
    name = `${fn || '(anonymous)'} ${file}:${at}`;
  }
  frameNames.set(symbol, name);
  return name;
}
const isSrc = (name) => / src\/\S+:\d+$/.test(name);

function categoryOf(frames, mainThread) {
  const thread = mainThread ? 'main thread' : 'other threads';
  for (const frame of frames) {
    if (/Scaveng|MinorGC|MarkCompact|ConcurrentMarking|Heap::|GCTracer|Sweeper/.test(frame))
      return `GC (${thread})`;
    if (/compiler::|Compile|Turbofan|Pipeline/.test(frame) && !mainThread)
      return 'JIT compile (other threads)';
  }
  const syscall = frames.find((frame) =>
    /^(__GI___writev|__GI___libc_read|read|epoll_pwait|__libc_pwrite64|__GI___pwrite64)$/.test(frame),
  );
  if (syscall)
    return `kernel: ${syscall.replace(/^__GI___|^__libc_|^libc_/, '').replace('libc_read', 'read')}`;
  if (frames.some((frame) => frame.startsWith('entry_SYSCALL'))) return 'kernel: other syscalls';
  if (frames.some((frame) => /sqlite3|Statement::/.test(frame))) return 'SQLite';
  if (
    frames.some((frame) => /llhttp|Parser::/.test(frame)) &&
    !frames.some((frame) => frame.startsWith('JS:'))
  )
    return 'HTTP parser (C++, incoming)';
  if (!mainThread) return 'other threads: other';
  return frames.some((frame) => frame.startsWith('JS:'))
    ? 'JavaScript and what it calls'
    : 'main thread: native, no JS frame';
}

let frames = [];
let mainThread = true;
function endSample() {
  if (frames.length === 0) return;
  samples++;
  bump(categories, categoryOf(frames, mainThread));
  const names = frames.map((frame) => (frame.startsWith('JS:') ? frameName(frame) : frame));
  const js = frames.findIndex((frame) => frame.startsWith('JS:'));
  bump(nearestJs, js === -1 ? '(no JavaScript frame)' : names[js]);
  const src = names.find(isSrc);
  bump(nearestSrc, src ?? '(no src/ frame)');
  for (const name of new Set(names.filter(isSrc))) bump(inclusiveSrc, name);
  frames = [];
}
for await (const line of createInterface({ input: perf.stdout })) {
  if (line.trim() === '') {
    endSample();
    continue;
  }
  if (line[0] === '\t') {
    const symbol = line
      .trim()
      .replace(/^[0-9a-f]+ /, '')
      .replace(/ \([^)]*\)$/, '')
      .replace(/\+0x[0-9a-f]+$/, '');
    frames.push(symbol);
  } else {
    const [pid, tid] = line.trim().split(/\s+/)[0].split('/');
    mainThread = pid === tid;
  }
}
endSample();

const usPerSample = 250; // -F 4000
const perRequest = (count) => ((count * usPerSample) / requests).toFixed(2).padStart(8);
const top = Number(options.top);
const table = (title, map, rows = top) => {
  console.log(`\n${title}`);
  for (const [key, count] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows))
    console.log(`${perRequest(count)} µs  ${key}`);
};
console.log(
  `${options.target}, ${options.mode}, ${options.connections} connections, ${options.seconds} s: ` +
    `${result.rps.toFixed(0)} req/s under perf, ${requests.toFixed(0)} requests in the window; CPU ${cpuPerRequestUs.toFixed(1)} µs/req (/proc), ` +
    `${perRequest(samples).trim()} µs/req in perf samples`,
);
table('by category (µs per request)', categories);
table(
  'by nearest src/ function (its own code and the library, runtime and kernel work it called)',
  nearestSrc,
);
table('inclusive, src/ functions', inclusiveSrc);
table('by nearest JavaScript frame', nearestJs);
if (options.keep)
  console.log(`\nperf data kept: ${options.keep} and ${perfMap} (perf report -i ${options.keep})`);
process.exit(0);
