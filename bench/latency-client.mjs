/**
 * Unloaded latency, one request at a time over one keep-alive connection (undici Pool):
 *   - non-streaming: time to the complete response;
 *   - streaming: time to the first body chunk (TTFB, what a chat UI waits for) and to the end.
 * Input: argv[2] JSON { url, n, warmup, plainBody, streamBody, headers? }. Output: JSON over IPC/stdout.
 */
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2] ?? '{}');
const n = job.n ?? 200;
const warmup = job.warmup ?? 30;
const pool = new Pool(job.url, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 });
const headers = { 'content-type': 'application/json', ...job.headers };

async function once(body) {
  const started = process.hrtime.bigint();
  const response = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
  let first;
  let bytes = 0;
  for await (const chunk of response.body) {
    first ??= process.hrtime.bigint();
    bytes += chunk.length;
  }
  const ended = process.hrtime.bigint();
  if (response.statusCode !== 200 || bytes === 0) throw new Error(`status ${response.statusCode}`);
  return { ttfbMs: Number(first - started) / 1e6, totalMs: Number(ended - started) / 1e6 };
}

function stats(values) {
  const sorted = Float64Array.from(values).sort();
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return {
    n: sorted.length,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
  };
}

async function series(body) {
  for (let i = 0; i < warmup; i++) await once(body);
  const ttfb = [];
  const total = [];
  for (let i = 0; i < n; i++) {
    const { ttfbMs, totalMs } = await once(body);
    ttfb.push(ttfbMs);
    total.push(totalMs);
  }
  return { ttfb: stats(ttfb), total: stats(total) };
}

let result;
try {
  const plain = await series(job.plainBody);
  const stream = await series(job.streamBody);
  result = { url: job.url, plainTotal: plain.total, streamTtfb: stream.ttfb, streamTotal: stream.total };
} catch (error) {
  result = { url: job.url, error: String(error) };
}
await pool.close();
if (process.send) process.send(result, () => process.exit(0));
else console.log(JSON.stringify(result, null, 2));
process.on('disconnect', () => process.exit(0));
