/**
 * OpenTelemetry traces, end to end: a real gateway exports over OTLP/HTTP (the official exporter,
 * JSON encoding) to a receiver on loopback that decodes every export. Fake OpenAI upstreams fail
 * over (the first model answers 500, the next one answers) and stream; the spans' names, kinds,
 * attributes and parentage are checked, with the traceparent each upstream received. Content only
 * with log_content; with tracing off no OpenTelemetry module is even loaded.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';
import { parseOtlpHeaders, resolveOtelSettings } from '../../src/observability/otel-settings.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { type FakeUpstream, sendJson, startFakeUpstream, writeSse } from '../helpers/fake-upstream.ts';
import { type ReceivedSpan, startReceiver } from './otlp-receiver.ts';

const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;
const exportToken = 'otel-export-token-0123456789abcdef';

/** OpenAI wire format: `up-primary` always answers 500; `up-backup` answers, plain or streamed. */
function upstreamHandler(): Parameters<typeof startFakeUpstream>[0] {
  return (request, response) => {
    const body = request.json as { model: string; stream?: boolean };
    if (body.model === 'up-primary') {
      sendJson(response, 500, { error: { message: 'primary is down', type: 'server_error', code: null } });
      return;
    }
    const usage = {
      prompt_tokens: 21,
      completion_tokens: 4,
      total_tokens: 25,
      prompt_tokens_details: { cached_tokens: 8 },
    };
    if (body.stream) {
      const chunk = (delta: unknown, finish: string | null) => ({
        id: 'chatcmpl-s',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'up-backup',
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      writeSse(response, [
        [undefined, chunk({ role: 'assistant', content: 'Streamed ' }, null)],
        [undefined, chunk({ content: 'backup answer.' }, null)],
        [undefined, chunk({}, 'stop')],
        [
          undefined,
          {
            id: 'chatcmpl-s',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'up-backup',
            choices: [],
            usage,
          },
        ],
        [undefined, '[DONE]'],
      ]);
      return;
    }
    sendJson(response, 200, {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'up-backup',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Backup answer.' }, finish_reason: 'stop' },
      ],
      usage,
    });
  };
}

function gatewayConfig(upstream: FakeUpstream, observability: RawConfig['observability']): RawConfig {
  const model = (upstreamModel: string, extra: Record<string, unknown> = {}) => ({
    provider: 'openai',
    base_url: `${upstream.url}/v1`,
    api_key: 'sk-upstream-key-0123456789',
    model: upstreamModel,
    strengths: ['simple_qa'],
    input_cost_per_1k: 0.01,
    output_cost_per_1k: 0.03,
    cache_read_cost_per_1k: 0.001,
    timeout: 5,
    capabilities: ['streaming'],
    ...extra,
  });
  return {
    server: { host: '127.0.0.1', port: 0, drain_timeout: 2 },
    models: {
      primary: model('up-primary', { fallbacks: ['backup'] }),
      backup: model('up-backup'),
      lonely: model('up-primary'),
    },
    routing: {
      seed: 7,
      rules: [{ name: 'sql rule', match: { keywords: ['sqlrule'] }, models: ['backup'] }],
    },
    resilience: { backoff_base: 0.005, backoff_max: 0.01 },
    observability: { log_level: 'silent', request_log: { path: ':memory:' }, ...observability },
  } as RawConfig;
}

function clientOf(server: StartedGateway): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}

const spansOfTrace = (spans: ReceivedSpan[], traceId: string) =>
  spans.filter((span) => span.traceId === traceId);
const requestSpanOf = (spans: ReceivedSpan[], requestId: string) => {
  const found = spans.find(
    (span) => span.kind === SERVER && span.attributes['switchyard.request_id'] === requestId,
  );
  assert.ok(found, `a request span for ${requestId}`);
  return found;
};
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((span) => span.parentSpanId === parent.spanId);

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let upstream: FakeUpstream;
  const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientParentId = '00f067aa0ba902b7';
  let failover: { requestId: string; text: string | null };
  let streamed: { requestId: string; text: string };
  let invalidParent: { requestId: string };
  let failed: { status: number };
  let upstreamTraceparents: string[];

  before(async () => {
    receiver = await startReceiver();
    upstream = await startFakeUpstream(upstreamHandler());
    const server = await startServer(
      normalizeConfig(
        gatewayConfig(upstream, {
          otel: {
            endpoint: receiver.url,
            headers: { authorization: `Bearer ${exportToken}` },
            service_name: 'switchyard-test',
          },
        }),
        {},
      ),
      { seed: 1 },
    );
    const client = clientOf(server);
    try {
      const first = await client.chat.completions
        .create(
          { model: 'primary', messages: [{ role: 'user', content: 'What is the capital of France?' }] },
          { headers: { traceparent: `00-${clientTraceId}-${clientParentId}-01` } },
        )
        .withResponse();
      failover = {
        requestId: first.response.headers.get('x-switchyard-request-id')!,
        text: first.data.choices[0]!.message.content,
      };
      upstreamTraceparents = upstream.requests.map((request) => String(request.headers.traceparent));

      const stream = await client.chat.completions
        .create({
          model: 'auto',
          stream: true,
          messages: [{ role: 'user', content: 'sqlrule: list tables' }],
        })
        .withResponse();
      let text = '';
      for await (const chunk of stream.data) text += chunk.choices[0]?.delta?.content ?? '';
      streamed = { requestId: stream.response.headers.get('x-switchyard-request-id')!, text };

      const third = await client.chat.completions
        .create(
          { model: 'backup', messages: [{ role: 'user', content: 'Hello?' }] },
          { headers: { traceparent: `00-${'0'.repeat(32)}-${clientParentId}-01` } },
        )
        .withResponse();
      invalidParent = { requestId: third.response.headers.get('x-switchyard-request-id')! };

      const refused = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'lonely', messages: [{ role: 'user', content: 'Anyone?' }] }),
      });
      await refused.text();
      failed = { status: refused.status };
    } finally {
      await server.close(); // flushes the batch
    }
  });

  after(async () => {
    await upstream.close();
    await receiver.close();
  });

  it('exports to /v1/traces with the configured headers and service name', () => {
    assert.ok(receiver.exports.length > 0, 'something was exported');
    for (const entry of receiver.exports) {
      assert.equal(entry.path, '/v1/traces');
      assert.equal(entry.headers['content-type'], 'application/json');
      assert.equal(entry.headers.authorization, `Bearer ${exportToken}`);
      for (const span of entry.spans) assert.equal(span.resource['service.name'], 'switchyard-test');
    }
  });

  it('a fail-over: one SERVER span continuing the client trace, a CLIENT child per attempt', () => {
    assert.equal(failover.text, 'Backup answer.');
    const spans = receiver.spans();
    const request = requestSpanOf(spans, failover.requestId);
    assert.equal(request.name, 'chat primary');
    assert.equal(request.traceId, clientTraceId);
    assert.equal(request.parentSpanId, clientParentId);
    const a = request.attributes;
    assert.equal(a['gen_ai.operation.name'], 'chat');
    assert.equal(a['gen_ai.provider.name'], 'openai');
    assert.equal(a['gen_ai.request.model'], 'primary');
    assert.equal(a['gen_ai.response.model'], 'backup');
    assert.equal(a['gen_ai.usage.input_tokens'], 21);
    assert.equal(a['gen_ai.usage.output_tokens'], 4);
    assert.equal(a['gen_ai.usage.cache_read.input_tokens'], 8);
    assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop']);
    assert.equal(a['gen_ai.request.stream'], undefined);
    assert.equal(a['switchyard.api'], 'chat');
    assert.equal(a['switchyard.fallbacks'], 1);
    assert.equal(a['switchyard.retries'], 1, 'primary was tried twice');
    assert.equal(a['switchyard.attempts'], 3);
    assert.equal(a['switchyard.hedge'], false);
    assert.equal(a['switchyard.task'], 'simple_qa');
    assert.equal(a['switchyard.priority'], 'balanced');
    assert.equal(a['switchyard.rule'], undefined);
    // 13 uncached input tokens at 0.01 per 1k, 8 cached at 0.001, 4 output at 0.03.
    assert.ok(
      Math.abs((a['switchyard.cost_usd'] as number) - (13 * 0.01 + 8 * 0.001 + 4 * 0.03) / 1000) < 1e-12,
    );
    assert.equal(a['http.response.status_code'], 200);
    assert.equal(a['error.type'], undefined);
    assert.notEqual(request.status.code, STATUS_ERROR);

    const attempts = childrenOf(spans, request);
    assert.deepEqual(
      attempts.map((span) => span.name),
      ['chat up-primary', 'chat up-primary', 'chat up-backup'],
    );
    for (const attempt of attempts) {
      assert.equal(attempt.kind, CLIENT);
      assert.equal(attempt.traceId, clientTraceId);
      assert.equal(attempt.attributes['gen_ai.operation.name'], 'chat');
      assert.equal(attempt.attributes['gen_ai.provider.name'], 'openai');
      assert.equal(attempt.attributes['server.address'], '127.0.0.1');
      assert.equal(attempt.attributes['server.port'], Number(new URL(upstream.url).port));
      assert.equal(attempt.attributes['switchyard.breaker_state'], 'closed');
      assert.equal(attempt.attributes['switchyard.hedge'], false);
    }
    const [firstTry, retry, backup] = attempts as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
    for (const failedTry of [firstTry, retry]) {
      assert.equal(failedTry.status.code, STATUS_ERROR);
      assert.equal(failedTry.attributes['error.type'], 'server');
      assert.equal(failedTry.attributes['http.response.status_code'], 500);
      assert.equal(failedTry.attributes['gen_ai.usage.input_tokens'], undefined);
    }
    assert.deepEqual(
      [firstTry.attributes['switchyard.attempt'], retry.attributes['switchyard.attempt']],
      [0, 1],
    );
    assert.equal(backup.attributes['switchyard.model'], 'backup');
    assert.equal(backup.attributes['gen_ai.request.model'], 'up-backup');
    assert.equal(backup.attributes['gen_ai.response.model'], 'up-backup');
    assert.equal(backup.attributes['switchyard.outcome'], 'success');
    assert.equal(backup.attributes['gen_ai.usage.input_tokens'], 21);
    assert.equal(backup.attributes['gen_ai.usage.output_tokens'], 4);
    assert.equal(backup.attributes['gen_ai.usage.cache_read.input_tokens'], 8);
    assert.deepEqual(backup.attributes['gen_ai.response.finish_reasons'], ['stop']);
    assert.notEqual(backup.status.code, STATUS_ERROR);

    // Each upstream call carried its own attempt span's context.
    assert.deepEqual(
      upstreamTraceparents,
      attempts.map((span) => `00-${clientTraceId}-${span.spanId}-01`),
    );
  });

  it('a stream routed by a rule: chat auto, streaming attributes, usage from the last chunk', () => {
    assert.equal(streamed.text, 'Streamed backup answer.');
    const spans = receiver.spans();
    const request = requestSpanOf(spans, streamed.requestId);
    assert.equal(request.name, 'chat auto');
    assert.equal(request.parentSpanId, '', 'no client traceparent: a new trace');
    assert.notEqual(request.traceId, clientTraceId);
    const a = request.attributes;
    assert.equal(a['gen_ai.request.model'], 'auto');
    assert.equal(a['gen_ai.response.model'], 'backup');
    assert.equal(a['gen_ai.request.stream'], true);
    assert.equal(typeof a['gen_ai.response.time_to_first_chunk'], 'number');
    assert.equal(a['gen_ai.usage.input_tokens'], 21);
    assert.equal(a['gen_ai.usage.output_tokens'], 4);
    assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop']);
    assert.equal(a['switchyard.rule'], 'sql rule');
    assert.equal(a['switchyard.fallbacks'], 0);
    const attempts = childrenOf(spans, request);
    assert.deepEqual(
      attempts.map((span) => [span.name, span.kind, span.attributes['gen_ai.request.stream']]),
      [['chat up-backup', CLIENT, true]],
    );
    assert.equal(attempts[0]!.attributes['gen_ai.usage.output_tokens'], 4);
    assert.equal(spansOfTrace(spans, request.traceId).length, 2);
  });

  it('an invalid traceparent is ignored (a new trace, no parent)', () => {
    const request = requestSpanOf(receiver.spans(), invalidParent.requestId);
    assert.equal(request.parentSpanId, '');
    assert.notEqual(request.traceId, '0'.repeat(32));
    assert.match(request.traceId, /^[0-9a-f]{32}$/);
  });

  it('a request every model failed: error status and type, finish reason error', () => {
    assert.equal(failed.status, 502);
    const spans = receiver.spans();
    const request = spans.find((span) => span.kind === SERVER && span.name === 'chat lonely');
    assert.ok(request);
    assert.equal(request.status.code, STATUS_ERROR);
    assert.equal(request.attributes['http.response.status_code'], 502);
    assert.equal(typeof request.attributes['error.type'], 'string');
    assert.deepEqual(request.attributes['gen_ai.response.finish_reasons'], ['error']);
    assert.equal(request.attributes['gen_ai.response.model'], undefined);
    assert.ok(childrenOf(spans, request).every((span) => span.status.code === STATUS_ERROR));
  });

  it('no prompt or answer without log_content', () => {
    for (const span of receiver.spans()) {
      assert.equal(span.attributes['gen_ai.input.messages'], undefined);
      assert.equal(span.attributes['gen_ai.output.messages'], undefined);
      assert.ok(!JSON.stringify(span.attributes).includes('capital of France'));
    }
  });
});

describe('OpenTelemetry with log_content', () => {
  it('records the prompt and the answer in the conventions message shape', async () => {
    const receiver = await startReceiver();
    const upstream = await startFakeUpstream(upstreamHandler());
    try {
      const server = await startServer(
        normalizeConfig(
          gatewayConfig(upstream, {
            request_log: { path: ':memory:', log_content: true },
            otel: { endpoint: `${receiver.url}/v1/traces` },
          }),
          {},
        ),
        { seed: 1 },
      );
      try {
        await clientOf(server).chat.completions.create({
          model: 'backup',
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'What is the capital of France?' },
          ],
        });
      } finally {
        await server.close();
      }
      const request = receiver.spans().find((span) => span.kind === SERVER);
      assert.ok(request);
      assert.equal(request.resource['service.name'], 'switchyard');
      assert.deepEqual(JSON.parse(request.attributes['gen_ai.input.messages'] as string), [
        { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
        { role: 'user', parts: [{ type: 'text', content: 'What is the capital of France?' }] },
      ]);
      assert.deepEqual(JSON.parse(request.attributes['gen_ai.output.messages'] as string), [
        { role: 'assistant', parts: [{ type: 'text', content: 'Backup answer.' }], finish_reason: 'stop' },
      ]);
    } finally {
      await upstream.close();
      await receiver.close();
    }
  });
});

describe('OpenTelemetry from the standard environment variables', () => {
  it('OTEL_EXPORTER_OTLP_* alone turn tracing on', async () => {
    const receiver = await startReceiver();
    const upstream = await startFakeUpstream(upstreamHandler());
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
      OTEL_EXPORTER_OTLP_HEADERS: `x-otlp-key=${encodeURIComponent('env secret=1')}`,
      OTEL_SERVICE_NAME: 'from-env',
    };
    try {
      const config = normalizeConfig(gatewayConfig(upstream, {}), env);
      assert.equal(config.observability.otel?.endpoint, `${receiver.url}/v1/traces`);
      const server = await startServer(config, { seed: 1 });
      try {
        await clientOf(server).chat.completions.create({
          model: 'backup',
          messages: [{ role: 'user', content: 'Hi' }],
        });
      } finally {
        await server.close();
      }
      assert.ok(receiver.exports.length > 0);
      assert.equal(receiver.exports[0]!.path, '/v1/traces');
      assert.equal(receiver.exports[0]!.headers['x-otlp-key'], 'env secret=1');
      assert.equal(receiver.spans()[0]!.resource['service.name'], 'from-env');
    } finally {
      await upstream.close();
      await receiver.close();
    }
  });

  it('resolves config over environment, field by field, and reports bad values by name', () => {
    const problems: string[] = [];
    const env = {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom/traces',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2',
      OTEL_SERVICE_NAME: 'env-name',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    };
    assert.deepEqual(resolveOtelSettings(undefined, env, problems), {
      endpoint: 'http://collector:4318/custom/traces',
      headers: { a: '1', b: '2' },
      service_name: 'env-name',
      sampling_ratio: 0.25,
    });
    assert.deepEqual(
      resolveOtelSettings(
        { endpoint: 'https://otel.example/base', headers: { b: 'config' }, sampling_ratio: 1 },
        env,
        problems,
      ),
      {
        endpoint: 'https://otel.example/base/v1/traces',
        headers: { a: '1', b: 'config' },
        service_name: 'env-name',
        sampling_ratio: 1,
      },
    );
    assert.deepEqual(problems, []);
    assert.equal(resolveOtelSettings({ service_name: 'x' }, {}, problems), undefined, 'no endpoint: off');
    assert.equal(
      resolveOtelSettings({ endpoint: 'http://a' }, { OTEL_SDK_DISABLED: 'true' }, problems),
      undefined,
    );
    assert.equal(
      resolveOtelSettings(
        undefined,
        { OTEL_TRACES_SAMPLER: 'always_off', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a' },
        problems,
      )?.sampling_ratio,
      0,
    );
    resolveOtelSettings(
      undefined,
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://nope',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_EXPORTER_OTLP_HEADERS: 'novalue',
      },
      problems,
    );
    assert.deepEqual(problems.sort(), [
      'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL',
      'OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas',
      'OTEL_TRACES_SAMPLER_ARG: expected a number between 0 and 1',
    ]);
    assert.deepEqual(parseOtlpHeaders('api-key=abc%2Cdef, x = y '), { 'api-key': 'abc,def', x: 'y' });
    assert.throws(
      () => normalizeConfig({ observability: { otel: { endpoint: 'not a url' } } }, {}),
      /observability\.otel\.endpoint: expected an http\(s\) URL/,
    );
  });
});

/** Run the load probe in a child process: its gateway's status and the OpenTelemetry modules it loaded. */
async function probe(config: RawConfig): Promise<{ status: number; loaded: string[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./otel-load-probe.ts', import.meta.url).pathname, JSON.stringify(config)],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: '' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('OpenTelemetry off', () => {
  const simulated = {
    provider: 'simulated',
    strengths: ['simple_qa'],
    cost_per_1k: 0.001,
    capabilities: ['streaming'],
    simulate: { ttft_ms: 1, ttft_sigma: 0, tokens_per_second: 5000, output_tokens: { min: 3, max: 4 } },
  };
  const base = {
    server: { host: '127.0.0.1', port: 0 },
    models: { sim: simulated },
    observability: { log_level: 'silent', request_log: { path: ':memory:' } },
  };

  it('loads no OpenTelemetry module and exports nothing when not configured', async () => {
    const receiver = await startReceiver();
    try {
      const off = await probe(base as RawConfig);
      assert.equal(off.status, 200);
      assert.deepEqual(off.loaded, []);
      assert.equal(receiver.exports.length, 0);
      // The same probe sees the SDK load (and the receiver gets the span) once otel is configured.
      const on = await probe({
        ...base,
        observability: { ...base.observability, otel: { endpoint: receiver.url } },
      } as RawConfig);
      assert.equal(on.status, 200);
      assert.ok(
        on.loaded.some((url) => url.startsWith('@opentelemetry/sdk-trace-base/')),
        on.loaded.join(),
      );
      assert.equal(receiver.spans().filter((span) => span.kind === SERVER).length, 1);
    } finally {
      await receiver.close();
    }
  });
});
