/**
 * What the shared store costs per call on loopback: p50/p99 of `admit` (2 and 4 buckets),
 * `get`, `publish` -> receive, on RedisStore and through FailoverStore (what a gateway uses),
 * plus admissions per second with many in flight. Starts its own redis-server.
 *
 *   node --import tsx bench/redis-store.bench.ts            # BENCH_N=5000 calls per row
 * Results: bench/redis-store.md.
 */
import { FailoverStore } from '../src/state/failover-store.ts';
import { RedisStore } from '../src/state/redis-store.ts';
import { type Bucket, key, MemoryStore, type Store } from '../src/state/store.ts';
import { startRedisServer } from '../test/helpers/redis-server.ts';

const iterations = Number(process.env.BENCH_N ?? 5000);
const warmup = Math.min(1000, iterations);

interface Row {
  name: string;
  p50: number;
  p99: number;
  mean: number;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

/** Time `call` one at a time (no overlap), after a warm-up; `after` runs untimed after each. */
async function measure(
  name: string,
  call: (index: number) => Promise<unknown>,
  after?: (index: number) => Promise<unknown>,
): Promise<Row> {
  for (let index = 0; index < warmup; index++) {
    await call(-1 - index);
    await after?.(-1 - index);
  }
  const samples: number[] = [];
  for (let index = 0; index < iterations; index++) {
    const started = performance.now();
    await call(index);
    samples.push(performance.now() - started);
    await after?.(index);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((sum, sample) => sum + sample, 0) / samples.length;
  return { name, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), mean };
}

function buckets(count: 2 | 4, expiresAtMs: number): Bucket[] {
  const list: Bucket[] = [
    { kind: 'window', key: 'window:model:m:requests', limit: 1e9, windowMs: 60_000, amount: 1 },
    { kind: 'window', key: 'window:model:m:tokens', limit: 1e12, windowMs: 60_000, amount: 850 },
  ];
  if (count === 4) {
    list.push(
      { kind: 'concurrency', key: 'slots:key:k', limit: 1e9, leaseMs: 60_000 },
      { kind: 'quota', key: 'budget:key:k:day', limit: 1e12, amount: 0.0042, expiresAtMs },
    );
  }
  return list;
}

async function storeRows(label: string, store: Store): Promise<Row[]> {
  const expiresAtMs = (await store.time()) + 3_600_000;
  const two = buckets(2, expiresAtMs);
  const four = buckets(4, expiresAtMs);
  await store.set(key('key:k'), { name: 'team-a', rpm: 600, models: ['m'] });
  const heard = new Map<string, () => void>();
  store.subscribe('bench', (message) => heard.get(message)?.());
  const rows = [
    await measure(`${label} admit, 2 buckets (rpm + tpm windows)`, (i) =>
      store.admit({ id: `a2-${i}`, buckets: two }),
    ),
    // The slot is given back (untimed), as a finished request would: slots held = requests in flight.
    await measure(
      `${label} admit, 4 buckets (+ slot + budget)`,
      (i) => store.admit({ id: `a4-${i}`, buckets: four }),
      // A slot is found by the admission's id (`at` only places window amounts).
      (i) => store.settle({ id: `a4-${i}`, at: 0 }, [{ kind: 'concurrency', key: 'slots:key:k' }]),
    ),
    await measure(`${label} get`, () => store.get(key('key:k'))),
    await measure(
      `${label} publish -> receive`,
      (i) =>
        new Promise<void>((resolve, reject) => {
          const message = `m${i}`;
          heard.set(message, () => {
            heard.delete(message);
            resolve();
          });
          store.publish('bench', message).catch(reject);
        }),
    ),
  ];
  return rows;
}

/** Admissions per second with `inFlight` at once from one instance. */
async function throughput(store: Store, inFlight: number): Promise<number> {
  const two = buckets(2, (await store.time()) + 3_600_000);
  let next = 0;
  const total = iterations * 2;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) await store.admit({ id: `t${next++}`, buckets: two });
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

const server = await startRedisServer();
try {
  const redis = new RedisStore({ url: server.url, prefix: 'bench-redis:' });
  await redis.waitUntilReady();
  const pingRow = await measure('PING (the round trip itself)', () => redis.ping());
  const rows = [pingRow, ...(await storeRows('RedisStore', redis))];
  const failover = new FailoverStore(
    new RedisStore({ url: server.url, prefix: 'bench-failover:' }),
    new MemoryStore(),
    { logger: { warn: (_, message) => console.error(message) } },
  );
  await failover.start();
  rows.push(...(await storeRows('FailoverStore', failover)));
  const memory = new MemoryStore();
  rows.push(...(await storeRows('MemoryStore', memory)));
  const rates = [];
  for (const inFlight of [1, 16, 64]) rates.push({ inFlight, perSecond: await throughput(redis, inFlight) });

  console.log(`${iterations} calls per row after ${warmup} warm-up calls, one at a time\n`);
  console.log('| call | p50 ms | p99 ms | mean ms |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    console.log(`| ${row.name} | ${row.p50.toFixed(3)} | ${row.p99.toFixed(3)} | ${row.mean.toFixed(3)} |`);
  }
  console.log('\n| RedisStore admit (2 buckets), in flight | admissions/s |');
  console.log('|---:|---:|');
  for (const rate of rates) console.log(`| ${rate.inFlight} | ${Math.round(rate.perSecond)} |`);
  await Promise.all([redis.close(), failover.close(), memory.close()]);
} finally {
  await server.stop();
}
