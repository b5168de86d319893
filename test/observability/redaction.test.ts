/**
 * Every configured secret (an api_key that does not look like a key, and a `models.*.headers`
 * value) is scrubbed from every string an upstream can put in front of anyone, for every adapter
 * and every path: an error body, a stream error before and after content, a health probe's log
 * line, the request log, `/admin/stats`, `/metrics` and the dashboard.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/observability/logger.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import {
  type FakeUpstream,
  type RecordedRequest,
  sendJson,
  startFakeUpstream,
} from '../helpers/fake-upstream.ts';
import { testConfig } from './helpers.ts';

const kinds = ['openai', 'anthropic', 'google'] as const;
type Kind = (typeof kinds)[number];
/** Secrets that no key-shaped pattern would catch: only the configured-secret scrub can. */
const keyOf = (kind: Kind) => `plainsecret-RAW-${kind}-ZZZ555`;
const headerSecret = 'hdrsecret-VALUE-77aa88bb99';
const allSecrets = [...kinds.map(keyOf), headerSecret];

/** What the upstream was sent as its credentials, echoed back as an upstream would. */
function presented(request: RecordedRequest): string {
  const auth = String(
    request.headers.authorization ?? request.headers['x-api-key'] ?? request.headers['x-goog-api-key'] ?? '',
  );
  return `key ${auth.replace(/^Bearer /, '')} and header ${String(request.headers['x-tenant-auth'] ?? '')}`;
}

type Mode = 'error' | 'stream-before' | 'stream-after';

function errorBody(kind: Kind, message: string): unknown {
  if (kind === 'anthropic') return { type: 'error', error: { type: 'api_error', message } };
  if (kind === 'google') return { error: { code: 500, message, status: 'INTERNAL' } };
  return { error: { message, type: 'server_error', code: null } };
}

function textEvent(kind: Kind, text: string): string {
  if (kind === 'anthropic') {
    return [
      `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'c', usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`,
      `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`,
      `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`,
    ].join('');
  }
  if (kind === 'google')
    return `data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text }] } }] })}\n\n`;
  return `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] })}\n\n`;
}

function errorEvent(kind: Kind, message: string): string {
  const body = JSON.stringify(errorBody(kind, message));
  return kind === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`;
}

function echoingUpstream(
  kind: Kind,
  mode: () => Mode,
): (request: RecordedRequest, response: ServerResponse) => void {
  return (request, response) => {
    const said = `Incorrect credentials: ${presented(request)}`;
    const current = mode();
    if (current === 'error') {
      sendJson(response, 500, errorBody(kind, said));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (current === 'stream-after') response.write(textEvent(kind, 'Partial answer '));
    response.end(errorEvent(kind, said));
  };
}

describe('secret redaction, for every adapter and path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redaction-'));
  const dbPath = join(dir, 'requests.db');
  const logLines: string[] = [];
  const upstreams = new Map<Kind, FakeUpstream>();
  let mode: Mode = 'error';
  let server: StartedGateway;

  before(async () => {
    for (const kind of kinds) upstreams.set(kind, await startFakeUpstream(echoingUpstream(kind, () => mode)));
    const models = Object.fromEntries(
      kinds.map((kind) => [
        kind,
        {
          provider: kind,
          base_url: kind === 'openai' ? `${upstreams.get(kind)!.url}/v1` : upstreams.get(kind)!.url,
          api_key: keyOf(kind),
          headers: { 'x-tenant-auth': headerSecret },
          timeout: 3,
          capabilities: ['streaming', 'json'],
          // Probes every second: their failures are logged with what the upstream said.
          health_check: { enabled: true, interval: 1 },
          // Probes and the tests' own failures must not open the breaker between the three calls
          // of a test (a loaded machine spaces them out): this test is about what errors say.
          circuit_breaker: { failure_threshold: 1000, min_requests: 1000 },
        },
      ]),
    );
    server = await startServer(
      testConfig({ models, observability: { log_level: 'debug', request_log: { path: dbPath } } } as never),
      { logger: createLogger('debug', { write: (line: string) => logLines.push(line) }) },
    );
  });

  after(async () => {
    await server?.close();
    for (const upstream of upstreams.values()) await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function assertClean(where: string, text: string): void {
    for (const secret of allSecrets) assert.ok(!text.includes(secret), `${where} contains ${secret}`);
  }

  async function call(model: Kind, stream: boolean): Promise<string> {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
    return `${response.status} ${await response.text()}`;
  }

  for (const kind of kinds) {
    it(`${kind}: an error body, a stream error before content and after content reach nobody with a secret`, async () => {
      mode = 'error';
      const plain = await call(kind, false);
      assert.match(plain, /^5\d\d /);
      assertClean(`${kind} error body`, plain);
      mode = 'stream-before';
      assertClean(`${kind} stream error before content`, await call(kind, true));
      mode = 'stream-after';
      const after = await call(kind, true);
      assert.match(after, /Partial answer/, 'the stream had started');
      assertClean(`${kind} stream error after content`, after);
      // The upstream did say it: it reached the upstream's reply, and stops at the gateway.
      assert.ok(upstreams.get(kind)!.requests.length > 0);
    });
  }

  it('the probe log lines, the request log, stats, metrics and the dashboard hold no secret', async () => {
    // Let every model be probed (their probes fail with the echo) at least once.
    mode = 'error';
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const probeLines = logLines.filter((line) => line.includes('health probe'));
    assert.ok(probeLines.length >= kinds.length, `probes logged (${probeLines.length} lines)`);
    assert.ok(
      probeLines.some((line) => line.includes('Incorrect credentials')),
      'the probe line keeps what the upstream said',
    );
    for (const line of logLines) assertClean('a log line', line);
    server.requestLog?.flush();
    const rows = await (await fetch(`${server.url}/admin/requests?limit=1000`)).text();
    assert.match(rows, /Incorrect credentials/, 'the request log keeps the upstream detail');
    assertClean('/admin/requests', rows);
    for (const path of ['/admin/stats', '/metrics', '/dashboard/api/snapshot']) {
      assertClean(path, await (await fetch(`${server.url}${path}`)).text());
    }
    for (const file of readdirSync(dir))
      assertClean(`request log file ${file}`, readFileSync(join(dir, file), 'latin1'));
  });
});
