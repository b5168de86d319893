/**
 * One autocannon run in its own process (so the load generator never shares an event loop with
 * what it measures). Input: a JSON job as argv[2]:
 *   { url, bodies: [string, ...], connections, duration?, amount?, headers? }
 * `bodies` are sent in rotation on every connection (autocannon `requests`). Output: one JSON
 * result over IPC (or on stdout when run by hand). Every response body is checked (`mismatches`:
 * a 200 whose stream did not end in `data: [DONE]`, or a completion without choices).
 *
 * Latency percentiles are computed here from autocannon's per-response times (float ms),
 * because autocannon's own histogram stores whole milliseconds, too coarse for sub-ms deltas.
 */
import autocannon from 'autocannon';

const job = JSON.parse(process.argv[2] ?? '{}');
const bodies = job.bodies ?? [];
const headers = { 'content-type': 'application/json', ...job.headers };

let times = new Float64Array(1 << 16);
let count = 0;
let non2xx = 0;
const statusCounts = {};

const options = {
  url: job.url,
  connections: job.connections ?? 10,
  pipelining: 1,
  timeout: 30,
  method: 'POST',
  headers,
  requests: bodies.map((body) => ({ method: 'POST', path: '/v1/chat/completions', headers, body })),
  // A complete answer: a completion with choices, or a stream that ends in [DONE] (a gateway
  // that fails mid-stream still answered 200). Failures are counted as `mismatches`.
  verifyBody: (body) =>
    body.startsWith('{') ? body.includes('"choices"') : body.endsWith('data: [DONE]\n\n'),
};
if (job.amount) options.amount = job.amount;
else options.duration = job.duration ?? 5;

const started = process.hrtime.bigint();
const instance = autocannon(options, (error, result) => {
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  if (error) {
    finish({ error: String(error) });
    return;
  }
  const sorted = times.subarray(0, count).sort();
  const pct = (p) => (count === 0 ? null : sorted[Math.min(count - 1, Math.floor((p / 100) * count))]);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i];
  finish({
    url: job.url,
    connections: options.connections,
    // autocannon's duration excludes connection set-up; it is the load window.
    durationS: result.duration,
    elapsedS,
    ok: count,
    non2xx,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    rps: count / result.duration,
    autocannonRpsAvg: result.requests.average,
    latencyMs: {
      mean: count ? sum / count : null,
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      max: count ? sorted[count - 1] : null,
    },
    throughputBytesPerS: result.throughput.average,
  });
});

instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
  if (statusCode < 200 || statusCode > 299) {
    non2xx++;
    return;
  }
  if (count === times.length) {
    const bigger = new Float64Array(times.length * 2);
    bigger.set(times);
    times = bigger;
  }
  times[count++] = responseTime;
});

function finish(result) {
  if (process.send) process.send(result, () => process.exit(0));
  else {
    console.log(JSON.stringify(result, null, 2));
    process.exit(0);
  }
}

process.on('disconnect', () => {
  instance.stop();
  process.exit(0);
});
