/**
 * Open-loop load for bench/fault-soak.mjs, in its own process: requests are fired on a fixed
 * schedule (request i at t0 + i / rate) whatever the answers do, over an undici Pool.
 *
 * Job (argv[2], JSON): { url, rate, durationS, models: [name, ...], streamShare?: 0.5,
 *   connections?: 200, drainS?: 30, abandonShare?: 0 }
 * Request i names models[i % models.length] and is streamed when (i % 2 === 0) with streamShare
 * 0.5 (otherwise every 1/streamShare-th one); every prompt is unique ("… (request i)"). With
 * abandonShare, that share of the streams is dropped by the client after its first body chunk
 * (the socket is destroyed: the gateway sees a client that left mid-stream).
 *
 * IPC out: `{type: 'started'}` at t0; `{type: 'second', ...}` once a second with what was sent
 * and answered in it; `{type: 'done', ...}` with the totals once every request is answered (or
 * drainS passed). An answer is classified as:
 *   ok          200 with a complete body (a completion with choices, or a stream ending in [DONE])
 *   streamError 200 stream that ended with an in-band error event (the gateway's honest failure)
 *   incomplete  200 whose body is neither (a stream cut without an error event)
 *   http<status> any other status
 *   abandoned   a stream this client dropped on purpose (abandonShare)
 *   clientError no answer at all (socket error, refused, reset)
 */
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2] ?? '{}');
const rate = job.rate ?? 300;
const total = Math.round(rate * (job.durationS ?? 40));
const models = job.models ?? ['auto'];
const streamEvery = Math.max(1, Math.round(1 / (job.streamShare ?? 0.5)));
const abandonEvery = job.abandonShare > 0 ? Math.max(1, Math.round(1 / job.abandonShare)) : 0;
const pool = new Pool(job.url, {
  connections: job.connections ?? 200,
  pipelining: 1,
  headersTimeout: 60_000,
  bodyTimeout: 60_000,
});
const headers = { 'content-type': 'application/json' };

const send = process.send
  ? (message) => process.send(message)
  : (message) => console.log(JSON.stringify(message));

let second = newSecond(0);
const totals = { sent: 0, answered: 0, outcomes: {}, latencyMs: [] };
let inFlight = 0;

function newSecond(index) {
  return { type: 'second', second: index, sent: 0, answered: 0, outcomes: {}, latencyMs: [] };
}

function bodyFor(i) {
  return JSON.stringify({
    model: models[i % models.length],
    messages: [
      { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
      { role: 'user', content: `What is the capital of France? Answer in one sentence. (request ${i})` },
    ],
    max_tokens: 64,
    stream: i % streamEvery === 0,
  });
}

function classify(status, text, streamed) {
  if (status !== 200) return `http${status}`;
  if (!streamed) return text.includes('"choices"') ? 'ok' : 'incomplete';
  const end = text.trimEnd();
  if (end.endsWith('data: [DONE]')) return /\ndata: \{"error"/.test(`\n${text}`) ? 'streamError' : 'ok';
  return /(^|\n)data: \{"error"/.test(text) ? 'streamError' : 'incomplete';
}

function record(outcome, latencyMs) {
  inFlight--;
  for (const bucket of [second, totals]) {
    bucket.answered++;
    bucket.outcomes[outcome] = (bucket.outcomes[outcome] ?? 0) + 1;
    bucket.latencyMs.push(latencyMs);
  }
  if (totals.answered === total) finish();
}

async function fire(i) {
  const started = performance.now();
  const streamed = i % streamEvery === 0;
  inFlight++;
  second.sent++;
  totals.sent++;
  try {
    const response = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers,
      body: bodyFor(i),
    });
    if (streamed && abandonEvery > 0 && (i / streamEvery) % abandonEvery === 0) {
      for await (const _chunk of response.body) break; // leaving the loop destroys the socket
      record('abandoned', performance.now() - started);
      return;
    }
    const text = await response.body.text();
    record(classify(response.statusCode, text, streamed), performance.now() - started);
  } catch (error) {
    record(`clientError:${error?.code ?? error?.name ?? 'unknown'}`, performance.now() - started);
  }
}

const percentile = (values, p) => {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const summarize = (bucket) => ({
  ...bucket,
  latencyMs: undefined,
  p50Ms: percentile(bucket.latencyMs, 50),
  p99Ms: percentile(bucket.latencyMs, 99),
  maxMs: bucket.latencyMs.length ? Math.max(...bucket.latencyMs) : null,
});

let finished = false;
function finish(reason = 'all answered') {
  if (finished) return;
  finished = true;
  clearInterval(reporter);
  send(summarize(second));
  send({
    type: 'done',
    reason,
    total,
    inFlight,
    ...summarize(totals),
    elapsedS: (performance.now() - t0) / 1000,
  });
  pool.destroy().finally(() => setTimeout(() => process.exit(0), 50));
}

const t0 = performance.now();
let next = 0;
function tick() {
  const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
  while (next < due) fire(next++);
  if (next < total) setTimeout(tick, 2);
  else setTimeout(() => finish(`drain timeout: ${inFlight} unanswered`), (job.drainS ?? 30) * 1000).unref();
}
const reporter = setInterval(() => {
  const done = second;
  second = newSecond(done.second + 1);
  send({ ...summarize(done), inFlight, poolQueued: pool.stats.queued });
}, 1000);
send({ type: 'started' });
tick();
process.on('disconnect', () => process.exit(0));
