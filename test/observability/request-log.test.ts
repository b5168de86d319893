/**
 * The SQLite request log: a real database file in a temp directory, written off the hot path
 * in batches; `/admin/requests` filters and pages; content only with `log_content`; retention;
 * close() flushes; the queue stays bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import type { RequestSummary } from '../../src/observability/events.ts';
import { RequestLog, type RequestRow } from '../../src/observability/request-log.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { fastModel, testConfig, waitFor } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-request-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function count(path: string, where = '1 = 1'): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM requests WHERE ${where}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function summary(overrides: Partial<RequestSummary> = {}): RequestSummary {
  return withUsage({
    api: 'chat',
    usage: [],
    requestId: `req_${Math.random().toString(36).slice(2)}`,
    startedAt: Date.now(),
    clientKeyId: undefined,
    stream: false,
    requestedModel: 'alpha',
    task: 'simple_qa',
    priority: 'balanced',
    model: 'alpha',
    attempts: [{ model: 'alpha', provider: 'simulated', outcome: 'success', latencyMs: 12 }],
    fallbacks: 0,
    retries: 0,
    latencyMs: 12.5,
    ttftMs: undefined,
    promptTokens: 10,
    completionTokens: 20,
    costUsd: 0.00005,
    usageEstimated: false,
    status: 200,
    errorCode: undefined,
    errorMessage: undefined,
    reason: 'test',
    ...overrides,
  });
}

/** Every byte SQLite has on disk for this database (main file, WAL, shared memory). */
function diskBytes(path: string): string {
  const base = path.split('/').pop()!;
  const folder = path.slice(0, -base.length);
  return readdirSync(folder)
    .filter((name) => name.startsWith(base))
    .map((name) => readFileSync(join(folder, name)).toString('latin1'))
    .join('\n');
}

describe('request log behind a real server', () => {
  const path = join(dir, 'nested', 'logs', 'requests.db');
  let server: StartedGateway;
  let client: OpenAI;
  const prompt = 'PRIVATE-PROMPT-7f3a: what is the capital of France?';

  async function admin(query: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.url}/admin/requests${query}`);
    return { status: response.status, body: await response.json() };
  }

  before(async () => {
    server = await startServer(
      testConfig({
        models: { alpha: fastModel(), beta: fastModel({ fallbacks: ['alpha'] }) },
        observability: { request_log: { path } },
      }),
    );
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });

  after(async () => {
    await server.close();
  });

  test('rows are written (batched, WAL) after requests, without content by default', async () => {
    for (let i = 0; i < 4; i++) {
      await client.chat.completions.create({
        model: 'alpha',
        messages: [{ role: 'user', content: `${prompt} #${i}` }],
      });
    }
    const stream = await client.chat.completions.create({
      model: 'beta',
      stream: true,
      messages: [{ role: 'user', content: prompt }],
    });
    for await (const _chunk of stream) {
      // drain
    }
    await assert.rejects(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: prompt }] }),
    );

    // Nothing is written on the request path itself: rows appear after the flush interval.
    await waitFor(() => count(path) === 6, '6 rows in the SQLite file', 3000);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const rows = db.prepare('SELECT * FROM requests ORDER BY id').all() as Array<Record<string, any>>;
    db.close();
    const first = rows[0]!;
    assert.match(first.request_id, /^req_/);
    assert.equal(first.requested_model, 'alpha');
    assert.equal(first.model, 'alpha');
    assert.equal(first.status, 200);
    assert.equal(first.attempts, 1);
    assert.equal(first.stream, 0);
    assert.ok(first.prompt_tokens > 0 && first.completion_tokens > 0 && first.cost_usd > 0);
    assert.ok(typeof first.reason === 'string' && first.reason.length > 0);
    assert.ok(Math.abs(first.ts - Date.now()) < 60_000);
    assert.deepEqual(
      JSON.parse(first.models_tried).map((attempt: { model: string; outcome: string }) => [
        attempt.model,
        attempt.outcome,
      ]),
      [['alpha', 'success']],
    );
    const streamed = rows[4]!;
    assert.equal(streamed.stream, 1);
    assert.equal(streamed.model, 'beta');
    assert.ok(streamed.ttft_ms > 0);
    const missing = rows[5]!;
    assert.equal(missing.status, 404);
    assert.equal(missing.error_code, 'model_not_found');
    assert.equal(missing.model, null);
    for (const row of rows) assert.equal(row.content, null);
    assert.ok(
      !diskBytes(path).includes('PRIVATE-PROMPT-7f3a'),
      'the prompt is nowhere in the database files',
    );
  });

  test('GET /admin/requests: newest first, filters, cursor paging', async () => {
    const all = await admin('');
    assert.equal(all.status, 200);
    assert.equal(all.body.data.length, 6);
    assert.equal(all.body.next_cursor, null);
    const times = all.body.data.map((row: RequestRow) => row.ts);
    assert.deepEqual(
      [...times].sort((a, b) => b - a),
      times,
      'newest first',
    );
    assert.equal(all.body.data[0].status, 404);
    assert.ok(Array.isArray(all.body.data[0].models_tried));
    assert.equal(typeof all.body.data[0].stream, 'boolean');

    const alpha = await admin('?model=alpha');
    assert.equal(alpha.body.data.length, 4);
    assert.ok(alpha.body.data.every((row: RequestRow) => row.model === 'alpha'));
    assert.equal((await admin('?status=404')).body.data.length, 1);
    assert.equal((await admin('?status=4xx')).body.data.length, 1);
    assert.equal((await admin('?status=error')).body.data.length, 1);
    assert.equal((await admin('?status=ok&model=beta')).body.data.length, 1);
    assert.equal((await admin(`?since=${Date.now() + 60_000}`)).body.data.length, 0);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    assert.equal((await admin(`?since=${encodeURIComponent(hourAgo)}`)).body.data.length, 6);
    assert.equal((await admin(`?until=${encodeURIComponent(hourAgo)}`)).body.data.length, 0);

    // Paging two at a time visits every row once, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await admin(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.data.length <= 2);
      seen.push(...page.body.data.map((row: RequestRow) => row.request_id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      all.body.data.map((row: RequestRow) => row.request_id),
    );
  });

  test('GET /admin/requests: invalid parameters are 400s in the OpenAI error shape', async () => {
    const cases: Array<[string, string]> = [
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=5000', 'limit'],
      ['?status=teapot', 'status'],
      ['?status=700', 'status'],
      ['?since=yesterday', 'since'],
      ['?until=2024-99-99', 'until'],
      ['?cursor=not-a-cursor', 'cursor'],
      ['?modle=alpha', 'modle'],
      ['?since=2000&until=1000', 'since'],
      ['?limit=1&limit=2', 'limit'],
    ];
    for (const [query, param] of cases) {
      const { status, body } = await admin(query);
      assert.equal(status, 400, query);
      assert.equal(body.error.type, 'invalid_request_error', query);
      assert.equal(body.error.code, 'invalid_request', query);
      assert.equal(body.error.param, param, query);
      assert.ok(body.error.message.length > 10, query);
    }
  });
});

describe('request log content and lifecycle', () => {
  test('log_content stores prompt and answer', async () => {
    const path = join(dir, 'content.db');
    const server = await startServer(
      testConfig({
        models: { alpha: fastModel() },
        observability: { request_log: { path, log_content: true } },
      }),
    );
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const completion = await client.chat.completions.create({
        model: 'alpha',
        messages: [{ role: 'user', content: 'KEEP-THIS-PROMPT' }],
      });
      const response = await fetch(`${server.url}/admin/requests`);
      const { data } = (await response.json()) as { data: RequestRow[] };
      assert.equal(data.length, 1);
      const content = data[0]!.content as {
        request: Array<{ role: string; content: string }>;
        response: string;
      };
      assert.equal(content.request[0]!.content, 'KEEP-THIS-PROMPT');
      assert.equal(content.response, completion.choices[0]!.message.content);
    } finally {
      await server.close();
    }
  });

  test('close() flushes what is queued, at once', async () => {
    const path = join(dir, 'close.db');
    const log = new RequestLog({ path, retentionDays: 7, logContent: false, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) log.requestFinished(summary());
    assert.equal(log.pending, 3);
    assert.equal(count(path), 0, 'not written yet');
    log.close();
    assert.equal(count(path), 3);
    log.requestFinished(summary()); // after close: ignored, never throws
  });

  test('the file is readable by its owner only, in a folder only its owner can enter', () => {
    const folder = join(dir, 'private', 'logs');
    const path = join(folder, 'requests.db');
    const log = new RequestLog({ path, retentionDays: 7, logContent: true });
    log.requestFinished(summary());
    log.flush();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    log.close();
  });

  test('feedback is stored beside the row; filters by key, front door and task', () => {
    const log = new RequestLog({ path: ':memory:', retentionDays: 7, logContent: false });
    log.requestFinished(
      summary({ requestId: 'req_a', clientKeyId: 'key_1', api: 'messages', task: 'coding' }),
    );
    log.requestFinished(summary({ requestId: 'req_b', clientKeyId: 'key_2', clientRequestId: 'client-7' }));
    assert.equal(log.setFeedback('req_a', 0.25), true);
    assert.equal(log.setFeedback('req_missing', 1), false);
    const [row] = log.query({ key: 'key_1' }).data;
    assert.equal(row?.request_id, 'req_a');
    assert.equal(row?.feedback_score, 0.25);
    assert.equal(row?.api, 'messages');
    assert.deepEqual(
      log.query({ api: 'chat' }).data.map((entry) => [entry.request_id, entry.client_request_id]),
      [['req_b', 'client-7']],
    );
    assert.deepEqual(
      log.query({ task: 'coding' }).data.map((entry) => entry.request_id),
      ['req_a'],
    );
    assert.deepEqual(
      log.feedback().map((entry) => entry.request_id),
      ['req_a'],
    );
    log.close();
  });

  test('a server shutting down flushes the log', async () => {
    const path = join(dir, 'shutdown.db');
    const server = await startServer(
      testConfig({ models: { alpha: fastModel() }, observability: { request_log: { path } } }),
    );
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
    await client.chat.completions.create({ model: 'alpha', messages: [{ role: 'user', content: 'a' }] });
    await client.chat.completions.create({ model: 'alpha', messages: [{ role: 'user', content: 'b' }] });
    await server.close();
    assert.equal(count(path), 2);
  });

  test('a full batch is written without waiting for the timer', async () => {
    const path = join(dir, 'batch.db');
    const log = new RequestLog({
      path,
      retentionDays: 7,
      logContent: false,
      flushIntervalMs: 60_000,
      batchSize: 50,
    });
    for (let i = 0; i < 50; i++) log.requestFinished(summary());
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(count(path), 50);
    log.close();
  });

  test('a batch written in multi-row statements keeps every row whole and in order', () => {
    const log = new RequestLog({
      path: ':memory:',
      retentionDays: 7,
      logContent: false,
      flushIntervalMs: 60_000,
    });
    // 23 rows: two ten-row statements and three single rows, each row's values its own.
    const startedAt = Date.now() - 60_000;
    const written = Array.from({ length: 23 }, (_, i) =>
      summary({
        requestId: `req_multi_${i}`,
        startedAt: startedAt + i,
        model: i % 2 === 0 ? 'alpha' : 'beta',
        promptTokens: 100 + i,
        completionTokens: 200 + i,
        latencyMs: 10 + i / 4,
        status: i === 17 ? 502 : 200,
        errorCode: i === 17 ? 'upstream_error' : undefined,
        reason: `reason ${i}`,
        stream: i % 3 === 0,
      }),
    );
    for (const row of written) log.requestFinished(row);
    log.flush();
    assert.equal(log.written, 23);
    const rows = log.query({ limit: 100 }).data.reverse(); // oldest first
    assert.deepEqual(
      rows.map((row) => row.request_id),
      written.map((row) => row.requestId),
    );
    rows.forEach((row, i) => {
      assert.equal(row.ts, startedAt + i);
      assert.equal(row.model, i % 2 === 0 ? 'alpha' : 'beta');
      assert.equal(row.prompt_tokens, 100 + i);
      assert.equal(row.completion_tokens, 200 + i);
      assert.equal(row.latency_ms, 10 + i / 4);
      assert.equal(row.status, i === 17 ? 502 : 200);
      assert.equal(row.error_code, i === 17 ? 'upstream_error' : null);
      assert.equal(row.reason, `reason ${i}`);
      assert.equal(row.stream, i % 3 === 0);
      assert.equal(row.usage?.[0]?.prompt_tokens, 100 + i);
    });
    log.close();
  });

  test('the queue is bounded: the oldest rows are dropped and counted', () => {
    const log = new RequestLog({
      path: ':memory:',
      retentionDays: 7,
      logContent: false,
      flushIntervalMs: 60_000,
      maxQueue: 10,
    });
    for (let i = 0; i < 15; i++) log.requestFinished(summary({ requestId: `req_${i}` }));
    assert.ok(log.pending <= 10 && log.pending >= 9, `pending ${log.pending}`);
    assert.equal(log.dropped + log.pending, 15, 'every row is either queued or counted as dropped');
    const pending = log.pending;
    log.flush();
    const ids = log.query({ limit: 100 }).data.map((row) => row.request_id);
    assert.equal(ids.length, pending);
    assert.ok(!ids.includes('req_0') && ids.includes('req_14'), 'the oldest went, the newest stayed');
    assert.equal(log.written, pending);
    log.close();
  });

  test('retention prunes old rows at start and on schedule', () => {
    const path = join(dir, 'retention.db');
    const now = Date.now();
    const day = 86_400_000;
    const long = new RequestLog({ path, retentionDays: 30, logContent: false });
    long.requestFinished(summary({ requestId: 'req_old', startedAt: now - 10 * day }));
    long.requestFinished(summary({ requestId: 'req_week', startedAt: now - 3 * day }));
    long.requestFinished(summary({ requestId: 'req_new', startedAt: now - 1000 }));
    long.close();
    assert.equal(count(path), 3);

    // Opening with a shorter retention prunes at start.
    const short = new RequestLog({ path, retentionDays: 5, logContent: false });
    assert.equal(count(path), 2);
    assert.equal(count(path, "request_id = 'req_old'"), 0);
    short.close();

    // The periodic prune uses the clock of that moment.
    let clock = now;
    const later = new RequestLog({ path, retentionDays: 5, logContent: false, now: () => clock });
    assert.equal(later.prune(), 0);
    clock = now + 3 * day; // req_week is now 6 days old
    assert.equal(later.prune(), 1);
    assert.deepEqual(
      later.query().data.map((row) => row.request_id),
      ['req_new'],
    );
    later.close();
  });

  test('spend since a time comes from hourly sums (and the rows of a partial hour), also for a log from before them', () => {
    const path = join(dir, 'spend.db');
    const hour = 3_600_000;
    const base = Math.floor(Date.now() / hour) * hour - 5 * hour;
    const rows: Array<[number, string, number]> = [
      [base - 10, 'alpha', 1], // before the half hour asked for below
      [base + 0.25 * hour, 'alpha', 2],
      [base + 0.75 * hour, 'alpha', 4], // in the partial hour
      [base + 1.5 * hour, 'beta', 8],
      [base + 3.2 * hour, 'alpha', 16],
      [base + 3.3 * hour, 'alpha', 32],
    ];
    const log = new RequestLog({ path, retentionDays: 7, logContent: false });
    for (const [startedAt, model, costUsd] of rows)
      log.requestFinished(summary({ startedAt, model, costUsd }));
    log.requestFinished(summary({ startedAt: base + hour, model: undefined, costUsd: 0, status: 502 }));
    log.flush();
    const expected = (since: number) => {
      const spend = new Map<string, number>();
      for (const [startedAt, model, cost] of rows)
        if (startedAt >= since) spend.set(model, (spend.get(model) ?? 0) + cost);
      return spend;
    };
    for (const since of [base - hour, base, base + 0.5 * hour, base + 2 * hour, base + 10 * hour]) {
      assert.deepEqual(log.spendSince(since), expected(since), `since base + ${(since - base) / hour} h`);
    }
    log.close();
    // A log written before the hourly sums existed: they are built once when it is opened.
    const db = new Database(path);
    db.exec('DROP TABLE spend_by_hour');
    db.close();
    const reopened = new RequestLog({ path, retentionDays: 7, logContent: false });
    assert.deepEqual(reopened.spendSince(base + 0.5 * hour), expected(base + 0.5 * hour));
    assert.deepEqual(reopened.spendSince(base - hour), expected(base - hour));
    reopened.close();
  });

  test('a file from before drops the (model, ts) index no query reads; the model filter still finds its rows', () => {
    const path = join(dir, 'old-index.db');
    const first = new RequestLog({ path, retentionDays: 7, logContent: false });
    first.close();
    // As files written before this change have it.
    const old = new Database(path);
    old.exec('CREATE INDEX requests_model_ts ON requests (model, ts)');
    old.close();
    const log = new RequestLog({ path, retentionDays: 7, logContent: false });
    const indexes = (
      log.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests'")
        .all() as Array<{
        name: string;
      }>
    ).map((row) => row.name);
    assert.ok(!indexes.includes('requests_model_ts'), `indexes: ${indexes.join(', ')}`);
    assert.ok(indexes.includes('requests_ts') && indexes.includes('requests_key_ts'));
    const now = Date.now();
    log.requestFinished(
      summary({ requestId: 'req_a', model: 'alpha', requestedModel: 'auto', startedAt: now - 2 }),
    );
    log.requestFinished(
      summary({ requestId: 'req_b', model: 'beta', requestedModel: 'alpha', startedAt: now - 1 }),
    );
    log.requestFinished(
      summary({ requestId: 'req_c', model: 'beta', requestedModel: 'beta', startedAt: now }),
    );
    log.flush();
    assert.deepEqual(
      log.query({ model: 'alpha' }).data.map((row) => row.request_id),
      ['req_b', 'req_a'],
    );
    log.close();
  });

  test(':memory: works and the request log can be turned off', async () => {
    const server = await startServer(
      testConfig({ models: { alpha: fastModel() }, observability: { request_log: { enabled: false } } }),
    );
    try {
      assert.equal(server.requestLog, undefined);
      const response = await fetch(`${server.url}/admin/requests`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as { error: { message: string } };
      assert.match(body.error.message, /request log is disabled/);
    } finally {
      await server.close();
    }
    const memory = new RequestLog({ path: ':memory:', retentionDays: 1, logContent: false });
    memory.requestFinished(summary());
    memory.flush();
    assert.equal(memory.query().data.length, 1);
    memory.close();
  });
});

/** The per-model usage a real summary carries: one entry for the answering model. */
function withUsage(summary: RequestSummary): RequestSummary {
  if (summary.usage.length > 0 || !summary.model) return summary;
  return {
    ...summary,
    usage: [
      {
        model: summary.model,
        provider: 'simulated',
        promptTokens: summary.promptTokens,
        completionTokens: summary.completionTokens,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        costUsd: summary.costUsd,
        estimated: summary.usageEstimated,
      },
    ],
  };
}
