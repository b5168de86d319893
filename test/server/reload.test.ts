/**
 * Config reload (issue 16): POST /admin/config/reload, SIGHUP and --watch-config re-read the file,
 * refuse a config with problems (400, `path: message`, the old one keeps serving), and swap a
 * valid one in while requests run: in-flight requests finish on their config, a removed model
 * drains, breakers and statistics of models that stayed are kept. GET /admin/config is redacted.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile, normalizeConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { redactedConfig } from '../../src/server/config-routes.ts';
import { startServer } from '../../src/start.ts';
import { cliArgs } from '../helpers/cli.ts';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson } from '../helpers/gateway.ts';

const adminKey = 'admin-key-for-reload-tests';
const admin = { authorization: `Bearer ${adminKey}` };

type Models = Record<string, unknown>;

function configText(models: Models, extra: Record<string, unknown> = {}): string {
  // YAML 1.2 reads JSON.
  return JSON.stringify({
    server: { host: '127.0.0.1', port: 0, admin_key: adminKey, drain_timeout: 5 },
    observability: { log_level: 'info', request_log: { path: ':memory:' } },
    models,
    ...extra,
  });
}

/** A gateway started from a config file, re-reading that file on reload, with its log lines captured. */
async function startFromFile(models: Models, extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, configText(models, extra));
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  const started = await startServer(loadConfigFile(file, {}), {
    seed: 1,
    logger,
    reloadConfig: () => loadConfigFile(file, {}),
  });
  return {
    started,
    file,
    lines,
    write: (next: Models, nextExtra: Record<string, unknown> = extra) =>
      writeFileSync(file, configText(next, nextExtra)),
    reload: () => postJson(`${started.url}/admin/config/reload`, '', admin),
    chat: (model: string, content = 'Hello there') =>
      postJson(`${started.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] }),
    get: async (path: string) => {
      const response = await fetch(`${started.url}${path}`, { headers: admin });
      return { status: response.status, text: await response.text() };
    },
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function modelIds(url: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/models`);
  const body = (await response.json()) as { data: Array<{ id: string }> };
  return body.data.map((model) => model.id).filter((id) => !id.startsWith('auto'));
}

function completionJson(model: string, content: string) {
  return {
    id: 'chatcmpl-up',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  };
}

function chunk(content: string | undefined, finish: string | null = null) {
  return {
    id: 'chatcmpl-up',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'up',
    choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
  };
}

describe('POST /admin/config/reload', () => {
  let gateway: Awaited<ReturnType<typeof startFromFile>>;
  before(async () => {
    gateway = await startFromFile({ alpha: fastSimulated(), beta: fastSimulated() });
  });
  after(() => gateway.started.close());

  it('needs the admin key', async () => {
    const response = await postJson(`${gateway.started.url}/admin/config/reload`, '');
    assert.equal(response.status, 401);
    assert.equal((await fetch(`${gateway.started.url}/admin/config`)).status, 401);
  });

  it('adds and removes models: /v1/models, chat, /admin/stats and /metrics follow', async () => {
    assert.equal((await gateway.chat('beta')).status, 200);
    gateway.write({ alpha: fastSimulated(), gamma: fastSimulated() });
    const reloaded = await gateway.reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual(reloaded.json.models, { added: ['gamma'], removed: ['beta'], kept: ['alpha'] });
    assert.deepEqual(reloaded.json.restart_needed, []);
    assert.deepEqual(await modelIds(gateway.started.url), ['alpha', 'gamma']);
    const listed = (await (await fetch(`${gateway.started.url}/v1/models/gamma`)).json()) as {
      owned_by: string;
    };
    assert.equal(listed.owned_by, 'simulated');

    const answered = await gateway.chat('gamma');
    assert.equal(answered.status, 200, answered.text);
    assert.equal(answered.headers.get('x-switchyard-model'), 'gamma');
    const gone = await gateway.chat('beta');
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'model_not_found');

    const stats = JSON.parse((await gateway.get('/admin/stats')).text);
    const names = stats.models.map((model: { model: string }) => model.model);
    assert.deepEqual(names.sort(), ['alpha', 'gamma']);
    assert.equal(stats.models.find((model: { model: string }) => model.model === 'gamma').requests, 1);
    const metrics = (await gateway.get('/metrics')).text;
    assert.match(metrics, /switchyard_requests_total\{model="gamma",provider="simulated",status="200"\} 1/);
    // The removed model's counter stays (Prometheus counters only grow); its gauges go.
    assert.match(metrics, /switchyard_requests_total\{model="beta",provider="simulated",status="200"\} 1/);
    assert.doesNotMatch(metrics, /switchyard_breaker_state\{model="beta"\}/);
    assert.match(metrics, /switchyard_breaker_state\{model="gamma"\} 0/);

    const audit = gateway.lines
      .map((line) => JSON.parse(line))
      .find((entry) => entry.action === 'config.reload');
    assert.ok(audit, 'an audit line for the reload');
    assert.equal(audit.audit, true);
    assert.equal(audit.status, 200);
    assert.ok(gateway.lines.some((line) => line.includes('"msg":"config reloaded"')));
  });

  it('refuses a config with problems: 400 with every problem as path: message, the old config serves', async () => {
    const before = (await gateway.get('/admin/config')).text;
    writeFileSync(
      gateway.file,
      configText({ alpha: { ...fastSimulated(), timeout: -1, wieght: 3 }, delta: fastSimulated() }),
    );
    const refused = await gateway.reload();
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.code, 'invalid_request');
    assert.ok(
      refused.json.problems.includes('models.alpha.timeout: expected a positive number'),
      refused.text,
    );
    assert.ok(refused.json.problems.includes('models.alpha.wieght: unknown field'), refused.text);
    const logged = gateway.lines.find((line) => line.includes('config reload refused'));
    assert.ok(logged, 'the refusal is logged');
    assert.match(JSON.parse(logged).msg, /^models\.alpha\.timeout: expected a positive number$/m);

    assert.equal((await gateway.get('/admin/config')).text, before);
    assert.deepEqual(await modelIds(gateway.started.url), ['alpha', 'gamma']);
    assert.equal((await gateway.chat('alpha')).status, 200);
    assert.equal((await gateway.chat('delta')).status, 404);

    writeFileSync(gateway.file, 'models: [unclosed');
    const broken = await gateway.reload();
    assert.equal(broken.status, 400);
    assert.match(broken.json.problems[0], /^\(file\): not valid YAML or JSON/);
    assert.equal((await gateway.chat('gamma')).status, 200);
  });

  it('keeps settings that need a restart and says which ones', async () => {
    const running = JSON.parse((await gateway.get('/admin/config')).text);
    writeFileSync(
      gateway.file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, admin_key: adminKey, drain_timeout: 5, body_limit: 1234 },
        observability: { log_level: 'debug', request_log: { path: ':memory:' } },
        models: { alpha: fastSimulated(), gamma: fastSimulated() },
        routing: { default_priority: 'cost' },
      }),
    );
    const reloaded = await gateway.reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual(reloaded.json.restart_needed.sort(), ['observability.log_level', 'server.body_limit']);
    const now = JSON.parse((await gateway.get('/admin/config')).text);
    assert.equal(now.server.body_limit, running.server.body_limit);
    assert.equal(now.observability.log_level, 'info');
    assert.equal(now.routing.default_priority, 'cost'); // routing applies at once
    const warning = gateway.lines.find((line) => line.includes('restart needed for'));
    assert.ok(warning, 'a restart-needed line');
    assert.match(warning, /server\.body_limit/);
    assert.match(warning, /observability\.log_level/);
  });
});

describe('a removed model drains; breakers and statistics of models that stayed are kept', () => {
  let upstream: FakeUpstream;
  let release: () => void = () => {};
  let failRetrying: () => void = () => {};
  let gateway: Awaited<ReturnType<typeof startFromFile>>;
  const openai = (url: string, extra: Record<string, unknown> = {}) => ({
    provider: 'openai',
    base_url: `${url}/v1`,
    api_key: 'sk-upstream-key-for-reload',
    timeout: 10,
    capabilities: ['streaming'],
    ...extra,
  });
  let models: Models;

  before(async () => {
    upstream = await startFakeUpstream(async (request, response) => {
      const body = request.json as { model: string; stream?: boolean };
      if (body.model === 'retrying-up') {
        // Fails, but only once the test has reloaded: the fail-over then runs on the old generation.
        await new Promise<void>((resolve) => {
          failRetrying = resolve;
        });
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":{"message":"late failure","type":"server_error"}}');
        return;
      }
      if (body.model === 'flaky-up') {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":{"message":"boom","type":"server_error"}}');
        return;
      }
      if (!body.stream) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(completionJson(body.model, 'hello')));
        return;
      }
      // The first token at once, the rest when the test lets it go.
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`data: ${JSON.stringify(chunk('first '))}\n\n`);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      response.write(`data: ${JSON.stringify(chunk('second '))}\n\n`);
      response.write(`data: ${JSON.stringify(chunk('third'))}\n\n`);
      response.write(`data: ${JSON.stringify(chunk(undefined, 'stop'))}\n\n`);
      response.end('data: [DONE]\n\n');
    });
    models = {
      steady: fastSimulated(),
      slow: openai(upstream.url, { model: 'slow-up' }),
      retrying: openai(upstream.url, { model: 'retrying-up', fallbacks: ['backup'] }),
      backup: openai(upstream.url, { model: 'backup-up' }),
      flaky: openai(upstream.url, {
        model: 'flaky-up',
        circuit_breaker: { failure_threshold: 1, recovery_timeout: 60 },
      }),
    };
    gateway = await startFromFile(models, { resilience: { max_attempts_per_model: 1 } });
  });
  after(async () => {
    release();
    failRetrying();
    await gateway.started.close();
    await upstream.close();
  });

  it('a stream in flight on a removed model finishes; new requests cannot name it', async () => {
    const response = await fetch(`${gateway.started.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    assert.match(text, /first/);

    const { slow: _removed, ...withoutSlow } = models;
    gateway.write({ ...withoutSlow, fresh: fastSimulated() });
    const reloaded = await gateway.reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual(reloaded.json.models.removed, ['slow']);
    const logged = JSON.parse(gateway.lines.find((line) => line.includes('"msg":"config reloaded"'))!);
    assert.equal(logged.draining, 1, 'the stream is still running on the old generation');

    const refused = await postJson(`${gateway.started.url}/v1/chat/completions`, {
      model: 'slow',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(refused.status, 404);

    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    assert.match(text, /second/);
    assert.match(text, /third/);
    assert.match(text, /data: \[DONE\]/);
    assert.doesNotMatch(text, /"error"/);
    // Its request is counted like any other (same event bus).
    const metrics = (await gateway.get('/metrics')).text;
    assert.match(metrics, /switchyard_requests_total\{model="slow",provider="openai",status="200"\} 1/);
  });

  it('a request in flight on a removed model still fails over after the reload (its gateway is not closed under it)', async () => {
    const pending = gateway.chat('retrying');
    await waitFor(() => upstream.requests.some((request) => (request.json as any)?.model === 'retrying-up'));
    const { retrying: _removed, slow: _gone, ...rest } = models;
    gateway.write(rest);
    const reloaded = await gateway.reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.ok(reloaded.json.models.removed.includes('retrying'));
    failRetrying();
    const answered = await pending;
    assert.equal(answered.status, 200, answered.text);
    assert.equal(answered.headers.get('x-switchyard-model'), 'backup');
    assert.equal(answered.headers.get('x-switchyard-fallbacks'), '1');
  });

  it('a breaker opened before a reload is still open after it; stats and passive health are kept', async () => {
    for (let index = 0; index < 3; index++) assert.equal((await gateway.chat('steady')).status, 200);
    const failed = await gateway.chat('flaky');
    assert.ok(failed.status >= 500, failed.text);
    const upstreamCalls = upstream.requests.length;
    const statsBefore = JSON.parse((await gateway.get('/admin/stats')).text);
    const steadyBefore = statsBefore.models.find((model: { model: string }) => model.model === 'steady');
    assert.equal(
      statsBefore.models.find((model: { model: string }) => model.model === 'flaky').breaker,
      'open',
    );
    const latencyBefore = gateway.started.gateway
      .modelStatus()
      .find((model) => model.model === 'steady')!.latencyMs;
    assert.ok(latencyBefore !== undefined);

    gateway.write({ steady: fastSimulated(), flaky: models.flaky, newcomer: fastSimulated() });
    const reloaded = await gateway.reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual(reloaded.json.models.added, ['newcomer']);

    const statsAfter = JSON.parse((await gateway.get('/admin/stats')).text);
    const byName = (name: string) =>
      statsAfter.models.find((model: { model: string }) => model.model === name);
    assert.equal(byName('flaky').breaker, 'open');
    assert.equal(byName('newcomer').breaker, 'closed');
    assert.equal(byName('steady').requests, steadyBefore.requests);
    assert.equal(statsAfter.requests, statsBefore.requests);
    assert.equal(
      gateway.started.gateway.modelStatus().find((model) => model.model === 'steady')!.latencyMs,
      latencyBefore,
    );
    // Still open: refused without calling the upstream.
    const again = await gateway.chat('flaky');
    assert.equal(again.status, 503, again.text);
    assert.equal(upstream.requests.length, upstreamCalls);
    assert.equal((await gateway.chat('newcomer')).status, 200);
  });
});

describe('GET /admin/config', () => {
  it('shows the running config with every secret kind redacted', async () => {
    const secrets = {
      provider: 'sk-provider-secret-1111',
      header: 'header-secret-2222',
      client: 'client-key-secret-3333',
      admin: 'admin-key-secret-4444',
      keySecret: 'key-secret-5555-abcdefghijklmnopqrstuvwxyz',
      otel: 'otel-token-secret-6666',
      basePassword: 'basepass-secret-7777',
    };
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-'));
    const started = await startServer(
      normalizeConfig(
        {
          server: {
            host: '127.0.0.1',
            port: 0,
            api_keys: [secrets.client],
            admin_key: secrets.admin,
            key_secret: secrets.keySecret,
          },
          observability: {
            log_level: 'silent',
            request_log: { path: join(dir, 'requests.db') },
            otel: {
              endpoint: 'http://127.0.0.1:9/v1/traces',
              headers: { authorization: `Bearer ${secrets.otel}` },
            },
          },
          models: {
            upstream: {
              provider: 'openai',
              base_url: `http://reader:${secrets.basePassword}@127.0.0.1:9/v1`,
              api_key: secrets.provider,
              headers: { 'x-extra-auth': secrets.header },
            },
          },
        },
        {},
      ),
    );
    try {
      const response = await fetch(`${started.url}/admin/config`, {
        headers: { authorization: `Bearer ${secrets.admin}` },
      });
      assert.equal(response.status, 200);
      const text = await response.text();
      for (const [kind, secret] of Object.entries(secrets)) {
        assert.ok(!text.includes(secret), `${kind} secret shown`);
      }
      const view = JSON.parse(text);
      assert.deepEqual(view.server.api_keys, ['[redacted]']);
      assert.equal(view.server.admin_key, '[redacted]');
      assert.equal(view.server.key_secret, '[redacted]');
      assert.equal(view.models.upstream.apiKey, '[redacted]');
      assert.deepEqual(view.models.upstream.headers, { 'x-extra-auth': '[redacted]' });
      assert.equal(view.models.upstream.baseUrl, 'http://reader:[redacted]@127.0.0.1:9/v1');
      assert.deepEqual(view.observability.otel.headers, { authorization: '[redacted]' });
      // What is not secret is all there.
      assert.equal(view.server.port, 0);
      assert.equal(view.models.upstream.provider, 'openai');
      assert.ok(Array.isArray(view.models.upstream.capabilities));
      assert.equal(view.observability.otel.endpoint, 'http://127.0.0.1:9/v1/traces');
    } finally {
      await started.close();
    }
  });

  it('removes the password of the Redis URL', () => {
    const view = redactedConfig(
      normalizeConfig(
        {
          models: { a: { provider: 'simulated' } },
          state: { redis: { url: 'redis://fleet:redis-secret-8888@10.0.0.5:6379/0' } },
        },
        {},
      ),
    ) as { state: { redis: { url: string; prefix: string } } };
    assert.equal(view.state.redis.url, 'redis://fleet:[redacted]@10.0.0.5:6379/0');
    assert.equal(view.state.redis.prefix, 'switchyard:');
    assert.ok(!JSON.stringify(view).includes('redis-secret-8888'));
  });
});

describe('reload under load', () => {
  it('loses no request: plain and streamed requests across three reloads are all answered 200', async () => {
    const timed = (extra: Record<string, unknown> = {}) =>
      fastSimulated({
        simulate: { ttft_ms: 20, ttft_sigma: 0, tokens_per_second: 300, output_tokens: { min: 10, max: 20 } },
        ...extra,
      });
    const configs: Models[] = [
      { alpha: timed(), beta: timed() },
      { alpha: timed(), beta: timed(), gamma: timed() },
      { alpha: timed({ weight: 300 }), beta: timed() },
      { alpha: timed(), beta: timed(), delta: timed() },
    ];
    const gateway = await startFromFile(configs[0]!);
    try {
      const total = 360;
      const concurrency = 60;
      const outcomes: Array<{ status: number; ok: boolean; detail: string }> = [];
      let next = 0;
      const one = async (index: number) => {
        const model = ['auto', 'alpha', 'beta'][index % 3]!;
        const stream = index % 2 === 0;
        const response = await fetch(`${gateway.started.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: `Question ${index}` }] }),
        });
        const text = await response.text();
        const ok = stream
          ? text.includes('data: [DONE]') && !text.includes('"error"')
          : typeof JSON.parse(text).choices?.[0]?.message?.content === 'string';
        outcomes.push({ status: response.status, ok, detail: text.slice(0, 200) });
      };
      const worker = async () => {
        for (let index = next++; index < total; index = next++) await one(index);
      };
      const load = Promise.all(Array.from({ length: concurrency }, worker));
      const reloads: Array<{ status: number; draining: number }> = [];
      for (const config of configs.slice(1)) {
        await new Promise((resolve) => setTimeout(resolve, 120));
        gateway.write(config);
        const reloaded = await gateway.reload();
        assert.equal(reloaded.status, 200, reloaded.text);
        const logged = gateway.lines.filter((line) => line.includes('"msg":"config reloaded"')).at(-1)!;
        reloads.push({ status: reloaded.status, draining: JSON.parse(logged).draining });
      }
      await load;
      assert.equal(outcomes.length, total);
      const failures = outcomes.filter((outcome) => outcome.status !== 200 || !outcome.ok);
      assert.deepEqual(failures, [], `${failures.length} of ${total} failed`);
      assert.equal(next >= total, true);
      // The reloads really happened under load: requests were running on the old generation.
      assert.ok(
        reloads.every((reload) => reload.draining > 0),
        `draining at each reload: ${reloads.map((reload) => reload.draining).join(', ')}`,
      );
      const stats = JSON.parse((await gateway.get('/admin/stats')).text);
      assert.equal(stats.requests, total, 'every request counted once on the shared event bus');
      // Once their requests ended, the replaced generations are gone: nothing drains any more.
      assert.equal((await gateway.reload()).status, 200);
      const last = gateway.lines.filter((line) => line.includes('"msg":"config reloaded"')).at(-1)!;
      assert.equal(JSON.parse(last).draining, 0);
      assert.deepEqual(await modelIds(gateway.started.url), ['alpha', 'beta', 'delta']);
    } finally {
      await gateway.started.close();
    }
  });
});

describe('switchyard start: SIGHUP and --watch-config', () => {
  const cleanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };

  /** The CLI from source (tsx), so the test runs what is in src/ now. */
  function startCli(args: string[]): { child: ChildProcess; output: () => string; url: Promise<string> } {
    const child = spawn(process.execPath, cliArgs(args), {
      cwd: process.cwd(),
      env: cleanEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (data) => {
      output += data;
    });
    const url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 30_000);
      child.stdout!.on('data', (data) => {
        output += data;
        const match = /^switchyard listening on (http:\/\/\S+)$/m.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    return { child, output: () => output, url };
  }

  async function until(
    condition: () => Promise<boolean> | boolean,
    what: string,
    output: () => string,
  ): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  }

  it('SIGHUP reloads the file; a broken file is logged as path: message and the old config stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-cli-'));
    const file = join(dir, 'switchyard.yaml');
    writeFileSync(file, configText({ alpha: fastSimulated() }));
    const cli = startCli(['start', '--config', file]);
    try {
      const url = await cli.url;
      assert.deepEqual(await modelIds(url), ['alpha']);

      writeFileSync(file, configText({ alpha: fastSimulated(), beta: fastSimulated() }));
      cli.child.kill('SIGHUP');
      await until(async () => (await modelIds(url)).includes('beta'), 'beta after SIGHUP', cli.output);
      const answered = await postJson(`${url}/v1/chat/completions`, {
        model: 'beta',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.equal(answered.status, 200, answered.text);

      writeFileSync(file, configText({ alpha: { ...fastSimulated(), timeout: -1 } }));
      cli.child.kill('SIGHUP');
      await until(() => cli.output().includes('config reload refused'), 'the refusal line', cli.output);
      assert.match(cli.output(), /models\.alpha\.timeout: expected a positive number/);
      assert.deepEqual(await modelIds(url), ['alpha', 'beta']);
      assert.equal(cli.child.exitCode, null, 'still running');
    } finally {
      assert.equal(await stop(cli.child), 0);
    }
  });

  it('--watch-config reloads when the file is replaced (as editors save)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-cli-'));
    const file = join(dir, 'switchyard.yaml');
    writeFileSync(file, configText({ alpha: fastSimulated() }));
    const cli = startCli(['start', '--config', file, '--watch-config']);
    try {
      const url = await cli.url;
      const temporary = join(dir, '.switchyard.yaml.swp');
      writeFileSync(temporary, configText({ alpha: fastSimulated(), watched: fastSimulated() }));
      renameSync(temporary, file);
      await until(async () => (await modelIds(url)).includes('watched'), 'the watched change', cli.output);
      // A second save (written in place) is seen too: the folder is watched, not the old file.
      writeFileSync(file, configText({ watched: fastSimulated() }));
      await until(async () => !(await modelIds(url)).includes('alpha'), 'the second change', cli.output);
    } finally {
      assert.equal(await stop(cli.child), 0);
    }
  });
});
