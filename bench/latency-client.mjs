/**
 * Unloaded latency, one request at a time over one keep-alive connection per target (undici Pool):
 *   - non-streaming: time to the complete response;
 *   - streaming: time to the first body chunk (TTFB, what a chat UI waits for) and to the end.
 * Targets take turns in blocks of `block` requests (10 to A, 10 to B, 10 to C, 10 to A, ...), so
 * each target's samples are taken under the same machine conditions and the differences between
 * targets are not swamped by a shared machine's drift from one second to the next, while each
 * target still serves back-to-back requests (a target woken for every single request measures
 * a colder process: every target slower, the larger ones more).
 * Input: argv[2] JSON { targets: [{ name, url, headers? }], n, warmup, block?, plainBody, streamBody }.
 * Output: JSON over IPC/stdout: { results: [{ name, url, plainTotal, streamTtfb, streamTotal } | { name, url, error }] }.
 */
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2] ?? '{}');
const n = job.n ?? 200;
const warmup = job.warmup ?? 30;
const block = Math.max(1, job.block ?? 10);
const targets = job.targets.map((target) => ({
  ...target,
  pool: new Pool(target.url, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 }),
  headers: { 'content-type': 'application/json', ...target.headers },
  samples: { plainTotal: [], streamTtfb: [], streamTotal: [] },
}));

async function once(target, body) {
  const started = process.hrtime.bigint();
  const response = await target.pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: target.headers,
    body,
  });
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

/** `block` requests per live target per turn; a target that fails drops out with its error. */
async function series(body, record) {
  for (let start = 0; start < warmup + n; start += block) {
    for (const target of targets) {
      for (let i = start; i < Math.min(start + block, warmup + n) && !target.error; i++) {
        try {
          const sample = await once(target, body);
          if (i >= warmup) record(target.samples, sample);
        } catch (error) {
          target.error = String(error);
        }
      }
    }
  }
}

await series(job.plainBody, (samples, { totalMs }) => samples.plainTotal.push(totalMs));
await series(job.streamBody, (samples, { ttfbMs, totalMs }) => {
  samples.streamTtfb.push(ttfbMs);
  samples.streamTotal.push(totalMs);
});
const results = targets.map(({ name, url, error, samples }) =>
  error
    ? { name, url, error }
    : {
        name,
        url,
        plainTotal: stats(samples.plainTotal),
        streamTtfb: stats(samples.streamTtfb),
        streamTotal: stats(samples.streamTotal),
      },
);
await Promise.all(targets.map((target) => target.pool.close()));
if (process.send) process.send({ results }, () => process.exit(0));
else console.log(JSON.stringify({ results }, null, 2));
process.on('disconnect', () => process.exit(0));
