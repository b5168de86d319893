/**
 * Switchyard as `npm run bench` measures it, every feature the issue names on: two `openai` models
 * on the fake upstream, model `auto` routing with three routing rules (none matches the bench's
 * question, so every rule is evaluated on every request), `rpm`/`tpm` caps on both models and a
 * virtual client key with rpm, tpm, concurrency and budget limits, all too large ever to refuse
 * (so every request is authenticated, admitted against the key's and its model's buckets, and charged),
 * metrics, the dashboard feed and the SQLite request log on, log level `warn`.
 *
 *   UPSTREAM_URL=http://127.0.0.1:PORT BENCH_TMP=/tmp/dir node --import tsx bench/switchyard-server.ts
 *
 * or, as `npm run bench` runs it, compiled with bench/tsconfig.server-build.json (the production
 * form: no tsx loader thread) and started with `node node_modules/.cache/switchyard-bench/bench/switchyard-server.js`.
 *
 * With BENCH_REDIS_URL (the `switchyard-redis` target): the same config plus `state.redis` on that
 * URL, nothing else, so every request is admitted against the key's buckets with the model's caps
 * in Redis (most from admission leases, units taken ahead; BENCH_ADMISSION_LEASES=0: one script
 * each), settled, and charged to the fleet-spend and key-usage counters.
 *
 * The client key is created at start; the ready message carries the header to send
 * (`headers.authorization`). BENCH_WITHOUT=key (bench/fault-soak.mjs, whose load sends no key)
 * starts without one.
 *
 * Under scripts/bench.mjs (IPC): reports its URL (and the client headers) when listening; answers `{type: 'memory'}` with
 * process.memoryUsage() after a full GC when started with --expose-gc (no GC with `gc: false`),
 * `{type: 'mark'}` with the monotonic clock in µs, and `{type: 'heap-snapshot', path}` with the
 * file it wrote; on SIGTERM or when the parent goes away it drains, closes the request log and
 * exits 0 (so --cpu-prof writes its file).
 *
 * With BENCH_CONFIG (bench/fault-soak.mjs): a JSON file of config sections (`models`, `routing`,
 * ...) that replace this file's.
 *
 * With BENCH_WITHOUT (bench/feature-cost.mjs, and `key` for bench/fault-soak.mjs): features left
 * out, to price each one.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { applyHeapPolicy } from '../src/cli/heap-policy.ts';
import { normalizeConfig } from '../src/config/load.ts';
import type { RawConfig } from '../src/config/schema.ts';
import { createKeySchema, parseInput } from '../src/keys/record.ts';
import { type StartedGateway, startServer } from '../src/start.ts';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000';
const dir = process.env.BENCH_TMP ?? join(tmpdir(), `switchyard-bench-${process.pid}`);
mkdirSync(dir, { recursive: true });

const raw: RawConfig = {
  server: { host: '127.0.0.1', port: Number(process.env.PORT ?? 0), drain_timeout: 2 },
  models: {
    'bench-large': {
      provider: 'openai',
      base_url: `${upstream}/v1`,
      api_key: 'sk-bench',
      model: 'bench-model',
      strengths: ['complex_reasoning', 'coding', 'creative_writing'],
      input_cost_per_1k: 0.0025,
      output_cost_per_1k: 0.01,
      weight: 100,
      timeout: 30,
      rpm: 1_000_000_000,
      tpm: 1_000_000_000_000,
    },
    'bench-small': {
      provider: 'openai',
      base_url: `${upstream}/v1`,
      api_key: 'sk-bench',
      model: 'bench-model',
      strengths: ['simple_qa', 'classification'],
      input_cost_per_1k: 0.00015,
      output_cost_per_1k: 0.0006,
      weight: 80,
      timeout: 30,
      rpm: 1_000_000_000,
      tpm: 1_000_000_000_000,
    },
  },
  routing: {
    default_priority: 'balanced',
    // Evaluated in order on every request; the bench's question matches none of them.
    rules: [
      { name: 'sql-to-large', match: { keywords: ['SQL', 'database', 'schema'] }, model: 'bench-large' },
      { name: 'translations', match: { regex: '\\btranslat(e|ion)\\b' }, task: 'creative_writing' },
      { name: 'vip-tenant', match: { headers: { 'x-tenant': 'vip' } }, priority: 'quality' },
    ],
  },
  observability: {
    log_level: 'warn',
    request_log: { enabled: true, path: join(dir, 'requests.db'), retention_days: 7, log_content: false },
  },
};

// BENCH_CONFIG (bench/fault-soak.mjs): a JSON file whose top-level sections replace the ones above.
if (process.env.BENCH_CONFIG) {
  const sections = JSON.parse(readFileSync(process.env.BENCH_CONFIG, 'utf8')) as Partial<RawConfig>;
  // Other models: the rules above name the bench's own.
  if (sections.models && !sections.routing) raw.routing = { default_priority: 'balanced' };
  Object.assign(raw, sections);
}

// BENCH_WITHOUT: features left out (see the header). A comma list of
// `key` (no client key), `limits` (a client key without limits: what authentication alone costs),
// `log` (no request log), `rules` (no routing rules), `caps` (no model rpm/tpm).
const without = new Set((process.env.BENCH_WITHOUT ?? '').split(',').filter(Boolean));
for (const feature of without)
  if (!['key', 'limits', 'log', 'rules', 'caps'].includes(feature))
    throw new Error(`BENCH_WITHOUT: unknown "${feature}"`);
if (without.has('log') && raw.observability?.request_log) raw.observability.request_log.enabled = false;
if (without.has('rules') && raw.routing) delete raw.routing.rules;
if (without.has('caps'))
  for (const model of Object.values(raw.models ?? {})) {
    delete model.rpm;
    delete model.tpm;
  }

const redisUrl = process.env.BENCH_REDIS_URL;
if (redisUrl) {
  // BENCH_ADMISSION_LEASES=0: every admission is one script in Redis (exact mode).
  raw.state = {
    redis: { url: redisUrl, prefix: 'bench:', admission_leases: process.env.BENCH_ADMISSION_LEASES !== '0' },
  };
}

const config = normalizeConfig(raw);
// As `switchyard start` runs (src/cli/heap-policy.ts): the bench measures what users run.
applyHeapPolicy();
const running: StartedGateway = await startServer(config, { seed: 42 });

// A virtual key whose limits are far above what the bench sends: every request pays the lookup,
// the admission (rpm, tpm, concurrency) and the budget check, and none is refused.
const clientHeaders: Record<string, string> = {};
if (!without.has('key')) {
  const { key } = await running.keys.create(
    parseInput(createKeySchema, {
      name: 'bench',
      ...(!without.has('limits') && {
        rpm: 1_000_000_000,
        tpm: 1_000_000_000,
        max_concurrency: 100_000,
        budget: { usd: 1_000_000_000, period: 'month' },
      }),
    }),
  );
  clientHeaders.authorization = `Bearer ${key}`;
}

/**
 * tsx runs transformed code, so a --cpu-prof profile has the transformed positions. Write the
 * source maps of every loaded src/ module (BENCH_SOURCEMAPS_OUT) so bench/cpuprofile-top.mjs
 * can map them back to the .ts lines.
 */
function writeSourceMaps(out: string): void {
  const srcDir = fileURLToPath(new URL('../src/', import.meta.url));
  const maps: Record<string, unknown> = {};
  for (const entry of readdirSync(srcDir, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const url = pathToFileURL(join(srcDir, entry)).href;
    const map = findSourceMap(url);
    if (map) maps[url] = map.payload;
  }
  writeFileSync(out, JSON.stringify(maps));
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  if (process.env.BENCH_SOURCEMAPS_OUT) writeSourceMaps(process.env.BENCH_SOURCEMAPS_OUT);
  const hardStop = setTimeout(() => process.exit(1), 10_000);
  hardStop.unref();
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

const gc = (globalThis as { gc?: () => void }).gc;
if (process.send) {
  process.on('message', (message: { type?: string; path?: string; gc?: boolean }) => {
    if (message?.type === 'memory') {
      if (message.gc !== false) gc?.();
      process.send?.({ type: 'memory', gc: gc !== undefined, ...process.memoryUsage() });
    } else if (message?.type === 'mark') {
      // Same monotonic clock (µs) as a --cpu-prof profile's timestamps: lets the profile be cut
      // to the load window, without start-up.
      process.send?.({ type: 'mark', us: Number(process.hrtime.bigint() / 1000n) });
    } else if (message?.type === 'heap-snapshot') {
      process.send?.({ type: 'heap-snapshot', file: writeHeapSnapshot(message.path) });
    }
  });
  process.on('disconnect', stop);
  process.send({ ready: true, url: running.url, headers: clientHeaders });
} else {
  console.log(
    `switchyard (bench config${redisUrl ? `, shared state in ${redisUrl}` : ''}) on ${running.url} -> ${upstream}; request log in ${dir}` +
      (clientHeaders.authorization ? `; send "authorization: ${clientHeaders.authorization}"` : ''),
  );
}
