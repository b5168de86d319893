/**
 * The request console's endpoints on a real server: who may call them (the admin key as
 * Bearer or the dashboard's session cookie; nothing else), what a page on another site is
 * refused (a foreign Origin, a cross-site fetch, a body not declared JSON), the list without
 * content and the detail with the decision's scores, the attempts with their start times and
 * the usage per model, and the controls: out of rotation (routing avoids the model) and back,
 * and a breaker reset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RequestRow } from '../../src/observability/request-log.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { fastModel, testConfig } from '../observability/helpers.ts';

const adminKey = 'console-admin-key-0123456789';
const bearer = { authorization: `Bearer ${adminKey}` };

let server: StartedGateway;
let cookie: string;

async function chat(model: string, content = 'What is the capital of France?') {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  const body = (await response.json()) as { error?: unknown };
  return { status: response.status, requestId: response.headers.get('x-switchyard-request-id'), body };
}

async function simulate(model: string, action: 'down' | 'up') {
  const response = await fetch(`${server.url}/admin/simulate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer },
    body: JSON.stringify({ model, action }),
  });
  assert.equal(response.status, 200);
}

/** A control POST as the dashboard page sends it (same origin, JSON, the session cookie). */
function control(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/dashboard/api/models/${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie,
      origin: server.url,
      'sec-fetch-site': 'same-origin',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

interface Decision {
  model: string;
  scores: Array<{ model: string }>;
  excluded: Array<{ model: string; reason: string }>;
}

async function route(): Promise<Decision> {
  const response = await fetch(`${server.url}/v1/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'Hello there?' }] }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Decision;
}

before(async () => {
  server = await startServer(
    testConfig({
      server: { admin_key: adminKey },
      observability: { request_log: { log_content: true } },
      models: {
        primary: fastModel({ fallbacks: ['backup'] }),
        backup: fastModel(),
        lonely: fastModel({ circuit_breaker: { failure_threshold: 1, recovery_timeout: 600 } }),
      },
    }),
  );
  const exchange = await fetch(`${server.url}/dashboard?key=${adminKey}`, { redirect: 'manual' });
  assert.equal(exchange.status, 303);
  cookie = (exchange.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^switchyard_dashboard=/);
});

after(() => server?.close());

describe('request console endpoints', () => {
  it('need the admin key or the session cookie', async () => {
    const bare = await fetch(`${server.url}/dashboard/api/requests`);
    assert.equal(bare.status, 401);
    const wrong = await fetch(`${server.url}/dashboard/api/requests`, {
      headers: { cookie: 'switchyard_dashboard=1.forged' },
    });
    assert.equal(wrong.status, 401);
    const detail = await fetch(`${server.url}/dashboard/api/requests/anything`);
    assert.equal(detail.status, 401);
    const post = await fetch(`${server.url}/dashboard/api/models/backup/rotation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ in_rotation: false }),
    });
    assert.equal(post.status, 401);
    assert.equal((await fetch(`${server.url}/dashboard/api/requests`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${server.url}/dashboard/api/requests`, { headers: bearer })).status, 200);
    assert.equal((await fetch(`${server.url}/dashboard/api/models`, { headers: { cookie } })).status, 200);
  });

  it('refuse a control sent from another site, even with the cookie', async () => {
    const foreign = await control(
      'backup/rotation',
      { in_rotation: false },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.status, 403);
    const nullOrigin = await control('backup/rotation', { in_rotation: false }, { origin: 'null' });
    assert.equal(nullOrigin.status, 403);
    const crossSite = await control(
      'backup/rotation',
      { in_rotation: false },
      { 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(crossSite.status, 403);
    // What a cross-site HTML form can send: no JSON content type.
    const form = await fetch(`${server.url}/dashboard/api/models/backup/rotation`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', cookie, origin: server.url },
      body: '{"in_rotation": false}',
    });
    assert.equal(form.status, 415);
    const empty = await fetch(`${server.url}/dashboard/api/models/backup/breaker/reset`, {
      method: 'POST',
      headers: { cookie, origin: server.url },
    });
    assert.equal(empty.status, 415, 'a body-less POST must still declare JSON');
    const status = (await (
      await fetch(`${server.url}/dashboard/api/models`, { headers: { cookie } })
    ).json()) as { data: Array<{ model: string; in_rotation: boolean }> };
    assert.equal(status.data.find((entry) => entry.model === 'backup')?.in_rotation, true, 'nothing changed');
  });

  it('list requests without their content, and show one with its decision, attempts and usage', async () => {
    await simulate('primary', 'down');
    const failover = await chat('primary', 'Say <b>hello</b> & goodbye');
    assert.equal(failover.status, 200);
    await simulate('primary', 'up');
    await simulate('lonely', 'down');
    const failed = await chat('lonely');
    assert.ok(failed.status >= 500, `lonely failed with ${failed.status}`);
    server.requestLog!.flush();
    const failedId = server.requestLog!.query({ limit: 1 }).data[0]?.request_id;
    await simulate('lonely', 'up');
    await chat('auto');

    const list = (await (
      await fetch(`${server.url}/dashboard/api/requests?limit=2`, { headers: { cookie } })
    ).json()) as { data: Array<Record<string, unknown>>; next_cursor: string | null };
    assert.equal(list.data.length, 2);
    assert.ok(list.next_cursor, 'a next page');
    for (const row of list.data) {
      assert.equal('content' in row, false);
      assert.equal('decision' in row, false);
      assert.equal(row.logged, true);
    }
    const older = (await (
      await fetch(`${server.url}/dashboard/api/requests?limit=2&cursor=${list.next_cursor}`, {
        headers: { cookie },
      })
    ).json()) as { data: Array<{ request_id: string }> };
    assert.equal(older.data[0]?.request_id, failover.requestId, 'the third newest');

    const errors = (await (
      await fetch(`${server.url}/dashboard/api/requests?status=5xx&model=lonely`, { headers: { cookie } })
    ).json()) as { data: Array<{ request_id: string }> };
    assert.deepEqual(
      errors.data.map((row) => row.request_id),
      [failedId],
    );
    const badFilter = await fetch(`${server.url}/dashboard/api/requests?status=teapot`, {
      headers: { cookie },
    });
    assert.equal(badFilter.status, 400);

    const response = await fetch(
      `${server.url}/dashboard/api/requests/${encodeURIComponent(failover.requestId!)}`,
      { headers: { cookie } },
    );
    assert.equal(response.status, 200);
    const row = (await response.json()) as RequestRow;
    assert.equal(row.model, 'backup');
    // primary fails (retried as its failure plan says), then backup answers.
    const tried = row.models_tried.map((attempt) => [attempt.model, attempt.outcome === 'success']);
    assert.deepEqual(tried[0], ['primary', false]);
    assert.deepEqual(tried.at(-1), ['backup', true]);
    assert.ok(
      tried.slice(0, -1).every(([model, ok]) => model === 'primary' && !ok),
      JSON.stringify(tried),
    );
    assert.equal(row.fallbacks, 1);
    assert.equal(row.retries, tried.length - 2);
    for (const attempt of row.models_tried) {
      assert.equal(typeof attempt.started_at, 'number');
      assert.ok(attempt.started_at! >= row.ts && attempt.started_at! <= row.ts + row.latency_ms + 5);
    }
    assert.ok(row.models_tried[1]!.started_at! >= row.models_tried[0]!.started_at!);
    assert.equal(row.decision?.primary, 'primary');
    assert.deepEqual(row.decision?.fallbacks, ['backup']);
    assert.deepEqual(row.decision?.candidates.map((candidate) => candidate.model).sort(), [
      'backup',
      'primary',
    ]);
    for (const candidate of row.decision!.candidates) {
      for (const field of ['score', 'match', 'health', 'cost', 'speed', 'quality'] as const) {
        assert.equal(typeof candidate[field], 'number', `${candidate.model}.${field}`);
      }
    }
    assert.deepEqual(
      row.usage?.map((entry) => entry.model),
      ['backup'],
    );
    assert.ok(row.usage![0]!.completion_tokens > 0);
    assert.equal(row.usage![0]!.cost_usd, row.cost_usd);
    assert.match(JSON.stringify(row.content), /Say <b>hello<\/b> & goodbye/);

    // `auto`: every model is a candidate, or excluded with a reason.
    const auto = (await (
      await fetch(`${server.url}/dashboard/api/requests?limit=1`, { headers: { cookie } })
    ).json()) as { data: Array<{ request_id: string }> };
    const autoRow = (await (
      await fetch(`${server.url}/dashboard/api/requests/${auto.data[0]!.request_id}`, { headers: { cookie } })
    ).json()) as RequestRow;
    const seen = [
      ...autoRow.decision!.candidates.map((candidate) => candidate.model),
      ...autoRow.decision!.excluded.map((entry) => entry.model),
    ].sort();
    assert.deepEqual(seen, ['backup', 'lonely', 'primary']);
    const lonely = autoRow.decision!.excluded.find((entry) => entry.model === 'lonely');
    assert.match(lonely?.reason ?? '', /breaker open/);

    const missing = await fetch(`${server.url}/dashboard/api/requests/req_not_there`, {
      headers: { cookie },
    });
    assert.equal(missing.status, 404);
  });

  it('take a model out of rotation and back, and reset a breaker', async () => {
    const out = await control('primary/rotation', { in_rotation: false });
    assert.equal(out.status, 200);
    assert.deepEqual(await out.json(), { model: 'primary', in_rotation: false, breaker: 'closed' });
    for (let i = 0; i < 20; i++) assert.notEqual((await route()).model, 'primary');
    const avoided = await route();
    assert.equal(
      avoided.scores.some((score) => score.model === 'primary'),
      false,
    );
    assert.match(
      avoided.excluded.find((entry) => entry.model === 'primary')?.reason ?? '',
      /out of rotation/,
    );
    const snapshot = (await (
      await fetch(`${server.url}/dashboard/api/snapshot`, { headers: { cookie } })
    ).json()) as { models: Array<{ model: string; in_rotation: boolean }> };
    assert.equal(snapshot.models.find((model) => model.model === 'primary')?.in_rotation, false);

    const back = await control('primary/rotation', { in_rotation: true });
    assert.equal(back.status, 200);
    assert.equal(((await back.json()) as { in_rotation: boolean }).in_rotation, true);
    const again = await route();
    assert.ok(
      again.scores.some((score) => score.model === 'primary'),
      'a candidate again',
    );
    assert.equal(
      again.excluded.some((entry) => entry.model === 'primary'),
      false,
    );

    // `lonely`'s breaker opened on its failure above (threshold 1, recovery 600 s).
    const before = (await (
      await fetch(`${server.url}/dashboard/api/models`, { headers: bearer })
    ).json()) as { data: Array<{ model: string; breaker: string }> };
    assert.equal(before.data.find((entry) => entry.model === 'lonely')?.breaker, 'open');
    const reset = await control('lonely/breaker/reset', {});
    assert.equal(reset.status, 200);
    assert.equal(((await reset.json()) as { breaker: string }).breaker, 'closed');
    assert.equal((await chat('lonely')).status, 200);

    assert.equal((await control('nobody/rotation', { in_rotation: false })).status, 404);
    assert.equal((await control('primary/rotation', { in_rotation: 'no' })).status, 400);
    assert.equal((await control('primary/sideways', {})).status, 404);
    // A name with markup and a slash travels percent-encoded and comes back as it was.
    assert.equal(
      (await control(`${encodeURIComponent('a/<b>')}/rotation`, { in_rotation: false })).status,
      404,
    );
  });
});

describe('request console without a request log', () => {
  it('says the log is off, and the controls still work', async () => {
    const quiet = await startServer(
      testConfig({ observability: { request_log: { enabled: false } }, models: { a: fastModel() } }),
    );
    try {
      const list = await fetch(`${quiet.url}/dashboard/api/requests`);
      assert.equal(list.status, 404);
      assert.match(
        ((await list.json()) as { error: { message: string } }).error.message,
        /request log is disabled/,
      );
      // Open on loopback (no keys): the same-origin and JSON checks still hold.
      const foreign = await fetch(`${quiet.url}/dashboard/api/models/a/rotation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://localhost:1' },
        body: JSON.stringify({ in_rotation: false }),
      });
      assert.equal(foreign.status, 403);
      const own = await fetch(`${quiet.url}/dashboard/api/models/a/rotation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: quiet.url },
        body: JSON.stringify({ in_rotation: false }),
      });
      assert.equal(own.status, 200);
      assert.equal(quiet.gateway.modelStatus()[0]?.inRotation, false);
    } finally {
      await quiet.close();
    }
  });
});
