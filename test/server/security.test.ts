/**
 * The server's defences, with raw sockets where a real client would misbehave: slowloris headers
 * and bodies, connection caps, a stream reader that never reads, foreign Hosts and Origins when
 * no key is set, non-JSON bodies, and listening publicly without keys.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import { createGateway } from '../../src/gateway/index.ts';
import { createGatewayServer } from '../../src/server/http-server.ts';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when the server closes the socket (or after `ms`, with false). */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function rawSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', () => {});
    socket.resume(); // read what the server says, so its closing reaches us
    socket.once('error', reject);
  });
}

describe('server defences', () => {
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let upstream: FakeUpstream;

  before(async () => {
    // An OpenAI-style upstream that streams ~24 MB, far more than socket buffers hold.
    upstream = await startFakeUpstream(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const piece = 'x'.repeat(64 * 1024);
      const chunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`;
      for (let i = 0; i < 384 && !response.destroyed; i++) {
        if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
      }
      response.end(
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`,
      );
    });
    gateway = await startTestGateway({
      server: { headers_timeout: 1, request_timeout: 2, write_timeout: 1, max_connections_per_ip: 40 },
      models: {
        sim: fastSimulated(),
        one: {
          provider: 'openai',
          base_url: `${upstream.url}/v1`,
          api_key: 'sk-test-upstream-1234',
          max_concurrency: 1,
        },
      },
    });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('a client trickling its headers is cut off after headers_timeout', async () => {
    const sockets = await Promise.all(Array.from({ length: 5 }, () => rawSocket(gateway.url)));
    for (const socket of sockets)
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const closed = await Promise.all(sockets.map((socket) => closedWithin(socket, 4000)));
    assert.deepEqual(closed, [true, true, true, true, true]);
  });

  it('a client sending its body slowly is cut off after request_timeout', async () => {
    const socket = await rawSocket(gateway.url);
    socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    const drip = setInterval(() => socket.write(' '), 200);
    const closed = await closedWithin(socket, 5000);
    clearInterval(drip);
    assert.equal(closed, true);
  });

  it('a stream reader that never reads is cut off after write_timeout, freeing its upstream call and slot', async () => {
    const socket = await rawSocket(gateway.url);
    const body = JSON.stringify({ model: 'one', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    socket.pause(); // never reads
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await sleep(300);
    // The paused reader holds `one`'s only slot for now...
    assert.equal(gateway.gateway.health.model('one')?.inFlight, 1, 'the paused stream is in flight');
    const blocked = await postJson(`${gateway.url}/v1/chat/completions`, {
      model: 'one',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(blocked.status, 503, 'its slot is taken');
    // ...until the write timeout cuts it off.
    await sleep(2000);
    assert.equal(gateway.gateway.health.model('one')?.inFlight, 0, 'the upstream call ended');
    socket.resume(); // read what was buffered: the server has closed the connection
    assert.equal(await closedWithin(socket, 10_000), true, 'the paused reader was cut off');
  });

  it('without keys, a foreign Host or Origin is refused (DNS rebinding, cross-site pages)', async () => {
    const { hostname, port } = new URL(gateway.url);
    const rebound = await new Promise<number>((resolve, reject) => {
      request(
        { host: hostname, port, path: '/v1/models', headers: { host: 'evil.example:4000' } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    assert.equal(rebound, 403);
    const crossSite = await postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'sim', messages: [{ role: 'user', content: 'hi' }] },
      { origin: 'https://evil.example' },
    );
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.json.error.code, 'forbidden');
    const local = await postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'sim', messages: [{ role: 'user', content: 'hi' }] },
      { origin: 'http://localhost:3000' },
    );
    assert.equal(local.status, 200);
  });

  it('a body that is not declared JSON is 415 (a page cannot POST text/plain to the API or the admin endpoints)', async () => {
    for (const path of ['/v1/chat/completions', '/admin/simulate']) {
      const response = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ model: 'sim', action: 'down', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(response.status, 415, path);
    }
    assert.equal(gateway.gateway.simulation('sim')?.forcedDown, false);
  });

  it('a model name longer than 256 characters is a 400, and n > 1 is a 400, never ignored', async () => {
    const long = await postJson(`${gateway.url}/v1/chat/completions`, {
      model: 'm'.repeat(2_000_000),
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(long.status, 400);
    assert.equal(long.json.error.param, 'model');
    const many = await postJson(`${gateway.url}/v1/chat/completions`, {
      model: 'sim',
      n: 3,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(many.status, 400);
    assert.equal(many.json.error.param, 'n');
  });

  it('admin access is written to the log as an audit line', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const config = normalizeConfig(
      {
        models: { sim: fastSimulated() },
        server: { admin_key: 'admin-secret-123456' },
        observability: { request_log: { enabled: false } },
      },
      {},
    );
    const g = createGateway({ config, logger });
    const running = await createGatewayServer(g).listen(0, '127.0.0.1');
    try {
      const response = await fetch(`${running.url}/admin/stats`, {
        headers: { authorization: 'Bearer admin-secret-123456' },
      });
      assert.equal(response.status, 200);
      await sleep(20);
      const audit = lines.map((line) => JSON.parse(line)).find((line) => line.audit === true);
      assert.equal(audit?.path, '/admin/stats');
      assert.equal(audit?.status, 200);
      assert.ok(
        audit?.keyId && !JSON.stringify(audit).includes('admin-secret-123456'),
        'the key id, never the key',
      );
    } finally {
      await running.close();
    }
  });

  it('refuses to listen on a public address without keys, unless told to', async () => {
    const open = createGateway({
      config: normalizeConfig(
        {
          models: { sim: fastSimulated() },
          observability: { log_level: 'silent', request_log: { enabled: false } },
        },
        {},
      ),
      logger: pino({ level: 'silent' }),
    });
    await assert.rejects(createGatewayServer(open).listen(0, '0.0.0.0'), /refusing to listen on 0\.0\.0\.0/);
    await open.close();
    const allowed = createGateway({
      config: normalizeConfig(
        {
          models: { sim: fastSimulated() },
          server: { allow_unauthenticated: true },
          observability: { log_level: 'silent', request_log: { enabled: false } },
        },
        {},
      ),
      logger: pino({ level: 'silent' }),
    });
    const running = await createGatewayServer(allowed).listen(0, '0.0.0.0');
    await running.close();
  });

  it('connections from one address beyond max_connections_per_ip are refused', async () => {
    const sockets = await Promise.all(Array.from({ length: 45 }, () => rawSocket(gateway.url)));
    await sleep(300);
    const refused = sockets.filter((socket) => socket.destroyed).length;
    for (const socket of sockets) socket.destroy();
    // Keep-alive connections of the earlier tests count too: at least 5 of these 45 are refused.
    assert.ok(refused >= 5 && refused < 45, `${refused} of 45 refused`);
  });
});
