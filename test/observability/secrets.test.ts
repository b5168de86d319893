/**
 * Keys never leak: upstream keys (a dead upstream, and one that echoes the key back in its
 * 401 message as some OpenAI-compatible servers do) and the gateway's own client key must
 * appear in no log line, no error body, and nothing the observability endpoints serve,
 * including the request log's database files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { createLogger } from '../../src/observability/logger.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { testConfig } from './helpers.ts';

const deadKey = 'sk-SECRET-dead-0123456789abcdefABCDEF';
const echoKey = 'sk-SECRET-echo-9876543210fedcbaFEDCBA';
const clientKey = 'sk-SECRET-client-00112233445566778899';
const secrets = [deadKey, echoKey, clientKey];

const dir = mkdtempSync(join(tmpdir(), 'switchyard-secrets-'));
const dbPath = join(dir, 'requests.db');
const logLines: string[] = [];
let server: StartedGateway;
let echo: FakeUpstream;
const served: Array<[string, string]> = [];

async function deadPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function assertClean(where: string, text: string): void {
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `${where} contains a key`);
    // Not even a recognisable fragment of it.
    assert.ok(!text.includes(secret.slice(10, 26)), `${where} contains part of a key`);
  }
}

before(async () => {
  echo = await startFakeUpstream((request, response) => {
    const presented = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    sendJson(response, 401, {
      error: {
        message: `Incorrect API key provided: ${presented}.`,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
  });
  const port = await deadPort();
  server = await startServer(
    testConfig({
      server: { api_keys: [clientKey] },
      models: {
        dead: {
          provider: 'openai',
          base_url: `http://127.0.0.1:${port}/v1`,
          api_key: deadKey,
          timeout: 2,
          capabilities: ['streaming', 'json'],
        },
        echo: {
          provider: 'openai',
          base_url: `${echo.url}/v1`,
          api_key: echoKey,
          timeout: 2,
          capabilities: ['streaming', 'json'],
        },
      },
      observability: { log_level: 'debug', request_log: { path: dbPath } },
    }),
    { logger: createLogger('debug', { write: (line: string) => logLines.push(line) }) },
  );
});

after(async () => {
  await server?.close();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('keys appear in no log line, error body, metric, stat, log row or dashboard', async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: clientKey, maxRetries: 0 });
  for (const model of ['dead', 'echo']) {
    for (const stream of [false, true]) {
      try {
        if (stream) {
          const chunks = await client.chat.completions.create({
            model,
            stream: true,
            messages: [{ role: 'user', content: 'hi' }],
          });
          for await (const _chunk of chunks) {
            // drain
          }
        } else {
          await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
        }
        assert.fail(`${model} should have failed`);
      } catch (error) {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.ok((error.status ?? 0) >= 500, `${model}: status ${error.status}`);
        served.push([
          `error body (${model}, stream ${stream})`,
          JSON.stringify(error.error) + String(error.message),
        ]);
      }
    }
  }
  // Raw error bodies too, exactly as the gateway wrote them.
  for (const model of ['dead', 'echo', 'auto']) {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
    });
    served.push([`raw response (${model})`, JSON.stringify([...response.headers]) + (await response.text())]);
  }
  // A wrong client key is refused without echoing what was sent or what was expected.
  const wrong = await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Bearer sk-wrong-key' } });
  assert.equal(wrong.status, 401);
  served.push(['401 body', await wrong.text()]);
  assert.equal(echo.requests.length > 0, true, 'the echoing upstream was called (and saw the key)');

  const auth = { authorization: `Bearer ${clientKey}` };
  for (const path of [
    '/metrics',
    '/admin/stats',
    '/admin/requests?limit=1000',
    '/dashboard',
    '/dashboard/app.js',
    '/dashboard/api/snapshot',
    '/v1/models',
    '/health/readiness',
  ]) {
    const response = await fetch(`${server.url}${path}`, { headers: auth });
    // Readiness is 503 here (every model is down); everything else answers.
    if (path !== '/health/readiness') assert.equal(response.status, 200, path);
    served.push([path, await response.text()]);
  }
  // One frame of the dashboard's event stream.
  const controller = new AbortController();
  const events = await fetch(`${server.url}/dashboard/events`, { headers: auth, signal: controller.signal });
  const reader = events.body!.getReader();
  const { value } = await reader.read();
  controller.abort();
  served.push(['/dashboard/events', new TextDecoder().decode(value)]);

  // The request log on disk (flushed by close below) and every log line.
  await server.close();
  const dbText = readdirSync(dir)
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
  assert.ok(dbText.includes('dead'), 'the request log has rows');

  assert.ok(logLines.length > 5, 'logs were captured');
  assert.ok(
    logLines.some((line) => line.includes('"requestId"') && line.includes('request finished')),
    'one line per finished request',
  );
  for (const line of logLines) assertClean(`log line ${line.slice(0, 200)}`, line);
  for (const [where, text] of served) assertClean(where, text);
  assertClean('request log database', dbText);
});
