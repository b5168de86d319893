/**
 * `GET /metrics` on a real server: traffic from the official OpenAI client, the exposition
 * parsed as Prometheus text (not string-matched), counters and histograms checked per model,
 * the breaker gauge following a forced outage, and zero traffic without NaN.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { latencyBuckets } from '../../src/observability/metrics.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import {
  fastModel,
  type MetricFamily,
  parsePrometheus,
  sample,
  samples,
  sumOf,
  testConfig,
  waitFor,
} from './helpers.ts';

let server: StartedGateway;
let client: OpenAI;

async function scrape(): Promise<{
  families: Map<string, MetricFamily>;
  contentType: string | null;
  text: string;
}> {
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  return { families: parsePrometheus(text), contentType: response.headers.get('content-type'), text };
}

async function stats(): Promise<{ text: string; body: { models: Array<Record<string, any>> } }> {
  const response = await fetch(`${server.url}/admin/stats`);
  assert.equal(response.status, 200);
  const text = await response.text();
  return { text, body: JSON.parse(text) };
}

before(async () => {
  server = await startServer(
    testConfig({
      models: {
        alpha: fastModel(),
        beta: fastModel({
          fallbacks: ['alpha'],
          circuit_breaker: { failure_threshold: 2, recovery_timeout: 120 },
        }),
        slow: fastModel({
          simulate: {
            ttft_ms: 600,
            ttft_sigma: 0,
            tokens_per_second: 5000,
            output_tokens: { min: 5, max: 5 },
          },
        }),
      },
    }),
  );
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

after(async () => {
  await server.close();
});

describe('GET /metrics', () => {
  test('with zero traffic: valid exposition, every model present, no NaN', async () => {
    const { families, contentType, text } = await scrape();
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
    const ours = [...families.values()].filter((family) => family.name.startsWith('switchyard_'));
    const names = ours.map((family) => family.name).sort();
    assert.deepEqual(names, [
      'switchyard_attempts_total',
      'switchyard_breaker_state',
      'switchyard_cache_total',
      'switchyard_cost_usd_total',
      'switchyard_fallbacks_total',
      'switchyard_in_flight_requests',
      'switchyard_key_budget_spent_usd',
      'switchyard_key_budget_usd',
      'switchyard_key_requests',
      'switchyard_key_spend_usd',
      'switchyard_model_health_score',
      'switchyard_request_duration_seconds',
      'switchyard_requests_total',
      'switchyard_retries_total',
      'switchyard_state_degraded',
      'switchyard_state_degraded_seconds',
      'switchyard_time_to_first_token_seconds',
      'switchyard_tokens_total',
    ]);
    for (const family of ours) {
      assert.ok(family.help && family.help.length > 10, `${family.name} has help text`);
      if (family.type === 'counter')
        assert.ok(family.name.endsWith('_total'), `${family.name}: counters end in _total`);
      if (family.type === 'histogram')
        assert.ok(family.name.endsWith('_seconds'), `${family.name}: base unit seconds`);
    }
    for (const family of ours) {
      for (const s of family.samples)
        assert.ok(Number.isFinite(s.value), `${s.name} ${JSON.stringify(s.labels)} = ${s.value}`);
    }
    // prom-client's event-loop-lag gauges read NaN until the first sample; ours never do.
    assert.doesNotMatch(
      text
        .split('\n')
        .filter((line) => line.startsWith('switchyard_'))
        .join('\n'),
      /nan/i,
    );
    for (const model of ['alpha', 'beta', 'slow']) {
      assert.equal(sample(families, 'switchyard_breaker_state', { model }), 0);
      assert.equal(sample(families, 'switchyard_model_health_score', { model }), 1);
      assert.equal(sample(families, 'switchyard_in_flight_requests', { model }), 0);
      assert.equal(sample(families, 'switchyard_requests_total', { model, status: '200' }), 0);
      assert.equal(sample(families, 'switchyard_request_duration_seconds_count', { model }), 0);
      assert.equal(sample(families, 'switchyard_tokens_total', { model, direction: 'input' }), 0);
      assert.equal(sample(families, 'switchyard_cost_usd_total', { model }), 0);
    }
    // Default process metrics are on the same registry.
    assert.ok(families.has('process_cpu_user_seconds_total'));
    assert.ok(families.has('nodejs_heap_size_total_bytes'));

    const { text: statsText, body } = await stats();
    assert.doesNotMatch(statsText, /NaN/);
    for (const model of body.models) {
      assert.equal(model.success_rate, null);
      assert.equal(model.latency_ms.p50, null);
      assert.equal(model.requests, 0);
    }
  });

  test('requests, attempts, tokens, cost and latency histograms move per model', async () => {
    for (let i = 0; i < 3; i++) {
      const completion = await client.chat.completions.create({
        model: 'alpha',
        messages: [{ role: 'user', content: `hi ${i}` }],
      });
      assert.ok(completion.choices[0]?.message.content);
    }
    for (let i = 0; i < 2; i++) {
      const stream = await client.chat.completions.create({
        model: 'alpha',
        stream: true,
        messages: [{ role: 'user', content: `stream ${i}` }],
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      assert.ok(text.length > 0);
    }
    // Metrics are recorded when the request finishes, which for a stream is just after [DONE].
    const { families } = await waitFor(async () => {
      const scraped = await scrape();
      return (
        sample(scraped.families, 'switchyard_requests_total', { model: 'alpha', status: '200' }) === 5 &&
        scraped
      );
    }, 'five alpha requests in /metrics');

    assert.equal(
      sample(families, 'switchyard_requests_total', { model: 'alpha', provider: 'simulated', status: '200' }),
      5,
    );
    assert.equal(
      sample(families, 'switchyard_attempts_total', {
        model: 'alpha',
        provider: 'simulated',
        outcome: 'success',
      }),
      5,
    );
    assert.equal(
      sample(families, 'switchyard_requests_total', { model: 'beta', status: '200' }),
      0,
      'other models untouched',
    );

    const input = sample(families, 'switchyard_tokens_total', {
      model: 'alpha',
      provider: 'simulated',
      direction: 'input',
    })!;
    const output = sample(families, 'switchyard_tokens_total', {
      model: 'alpha',
      provider: 'simulated',
      direction: 'output',
    })!;
    assert.ok(input > 0 && output >= 5 * 5, `tokens in ${input} out ${output}`);
    const cost = sample(families, 'switchyard_cost_usd_total', { model: 'alpha', provider: 'simulated' })!;
    assert.ok(Math.abs(cost - ((input / 1000) * 0.001 + (output / 1000) * 0.002)) < 1e-9, `cost ${cost}`);

    // Histogram: cumulative buckets at the configured bounds, +Inf = count, sum > 0.
    const buckets = samples(families, 'switchyard_request_duration_seconds_bucket').filter(
      (s) => s.labels.model === 'alpha',
    );
    assert.deepEqual(
      buckets.map((s) => s.labels.le),
      [...latencyBuckets.map(String), '+Inf'],
    );
    for (let i = 1; i < buckets.length; i++)
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
    assert.equal(buckets.at(-1)!.value, 5);
    assert.equal(sample(families, 'switchyard_request_duration_seconds_count', { model: 'alpha' }), 5);
    assert.ok(sample(families, 'switchyard_request_duration_seconds_sum', { model: 'alpha' })! > 0);
    assert.ok(
      sample(families, 'switchyard_time_to_first_token_seconds_count', { model: 'alpha' })! >= 2,
      'streams record TTFT',
    );

    // /admin/stats agrees with /metrics.
    const { body } = await stats();
    const alpha = body.models.find((model) => model.model === 'alpha')!;
    assert.equal(alpha.requests, 5);
    assert.equal(alpha.success_rate, 1);
    assert.equal(alpha.tokens_in, input);
    assert.equal(alpha.tokens_out, output);
    assert.ok(Math.abs(alpha.cost_usd - cost) < 1e-6);
    assert.ok(alpha.latency_ms.p50 > 0 && alpha.latency_ms.p99 >= alpha.latency_ms.p50);
  });

  test('a model taken down: failed attempts, retries, fallbacks and the breaker gauge', async () => {
    const down = await fetch(`${server.url}/admin/simulate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'beta', action: 'down' }),
    });
    assert.equal(down.status, 200);
    for (let i = 0; i < 3; i++) {
      const { data, response } = await client.chat.completions
        .create({ model: 'beta', messages: [{ role: 'user', content: `failover ${i}` }] })
        .withResponse();
      assert.ok(data.choices[0]?.message.content);
      assert.equal(response.headers.get('x-switchyard-model'), 'alpha', 'beta fell back to alpha');
    }
    const { families } = await scrape();
    assert.ok(sample(families, 'switchyard_attempts_total', { model: 'beta', outcome: 'server' })! >= 2);
    assert.ok(
      sample(families, 'switchyard_retries_total', { model: 'beta' })! >= 1,
      'beta was retried once before moving on',
    );
    assert.ok(sample(families, 'switchyard_fallbacks_total', { model: 'beta' })! >= 1);
    assert.equal(sample(families, 'switchyard_fallbacks_total', { model: 'alpha' }), 0);
    assert.equal(sample(families, 'switchyard_breaker_state', { model: 'beta' }), 2, 'beta breaker open');
    assert.equal(sample(families, 'switchyard_model_health_score', { model: 'beta' }), 0);
    assert.equal(sample(families, 'switchyard_breaker_state', { model: 'alpha' }), 0);
    // The requests were answered by alpha, so that is where they are counted.
    assert.equal(sample(families, 'switchyard_requests_total', { model: 'alpha', status: '200' }), 8);
    assert.equal(sumOf(families, 'switchyard_requests_total', { model: 'beta' }), 0);

    const { body } = await stats();
    const beta = body.models.find((model) => model.model === 'beta')!;
    assert.equal(beta.breaker, 'open');
    assert.equal(beta.state, 'down');
  });

  test('made-up model names and request ids never become label values', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'made-up-model-xyz',
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (error: InstanceType<typeof OpenAI.APIError>) => error.status === 404,
    );
    const { families, text } = await scrape();
    assert.equal(
      sample(families, 'switchyard_requests_total', { model: 'unknown', provider: 'none', status: '404' }),
      1,
    );
    assert.doesNotMatch(text, /made-up-model-xyz/);
    const allowedModels = new Set([
      'alpha',
      'beta',
      'slow',
      'unknown',
      'auto',
      'auto:cost',
      'auto:speed',
      'auto:quality',
      'auto:balanced',
    ]);
    for (const family of families.values()) {
      if (!family.name.startsWith('switchyard_')) continue;
      for (const s of family.samples) {
        for (const value of Object.values(s.labels))
          assert.doesNotMatch(value, /^req_|^chatcmpl/, `${s.name} has an id label`);
        if (s.labels.model !== undefined)
          assert.ok(allowedModels.has(s.labels.model), `unexpected model label ${s.labels.model}`);
      }
    }
  });

  test('in-flight gauge while a request is running', async () => {
    const pending = client.chat.completions.create({
      model: 'slow',
      messages: [{ role: 'user', content: 'take your time' }],
    });
    await waitFor(
      async () => sample((await scrape()).families, 'switchyard_in_flight_requests', { model: 'slow' }) === 1,
      'slow in flight',
    );
    await pending;
    const { families } = await scrape();
    assert.equal(sample(families, 'switchyard_in_flight_requests', { model: 'slow' }), 0);
    assert.equal(sample(families, 'switchyard_requests_total', { model: 'slow', status: '200' }), 1);
    const duration = sample(families, 'switchyard_request_duration_seconds_sum', { model: 'slow' })!;
    assert.ok(duration >= 0.5 && duration < 10, `slow took ${duration}s`);
  });
});
