/**
 * The request log: one SQLite row per finished request (better-sqlite3, WAL mode).
 *
 * Writes stay off the hot path: `requestFinished` only pushes the summary onto an in-memory
 * queue; a timer (or a full batch) flushes the queue in one transaction through a prepared
 * statement. The queue is bounded: if the disk ever falls that far behind, the oldest entries
 * are dropped and counted rather than growing without limit. Old rows are pruned at start and
 * hourly. `GET /admin/requests` pages through the log newest-first.
 */
import type Database from 'better-sqlite3';
import { openPrivateDatabase } from '../state/sqlite.ts';
import type { GatewayEvents, RequestSummary } from './events.ts';
import { decodeCursor, encodeCursor, type RequestQuery, statusRange } from './request-query.ts';
import { attemptsJson, type DecisionRow, decisionJson, type UsageRow, usageJson } from './request-row.ts';

export { parseRequestQuery, type RequestQuery } from './request-query.ts';
export type { DecisionRow, UsageRow } from './request-row.ts';

const dayMs = 86_400_000;

export interface RequestLogOptions {
  /** SQLite file; `:memory:` keeps the log in memory. */
  path: string;
  retentionDays: number;
  /** Store prompt and answer (`content` column). Off: the column is always NULL. */
  logContent: boolean;
  /** Flush the queue this often (ms). Default 50: a summary kept longer outlives young-generation GCs and is copied, then promoted. */
  flushIntervalMs?: number;
  /** Flush at once when this many rows are queued. Default 100. */
  batchSize?: number;
  /** Queue bound; beyond it the oldest rows (a tenth of the bound) are dropped and counted. Default 50 000. */
  maxQueue?: number;
  /** Prune interval (ms). Default one hour. */
  pruneIntervalMs?: number;
  /** Wall clock, ms (tests). */
  now?: () => number;
  /** Told about write failures (never throws into the request path). */
  onError?: (error: unknown, context: string) => void;
}

export interface AttemptRow {
  model: string;
  outcome: string;
  status: number | null;
  message: string | null;
  latency_ms: number;
  /** Wall-clock ms when the attempt started (rows written before it was kept have none). */
  started_at?: number;
  /** A hedge started beside the primary. */
  hedge?: boolean;
}

export interface RequestRow {
  request_id: string;
  client_request_id: string | null;
  api: string;
  ts: number;
  time: string;
  client_key_id: string | null;
  task: string | null;
  priority: string | null;
  requested_model: string;
  model: string | null;
  models_tried: AttemptRow[];
  attempts: number;
  fallbacks: number;
  retries: number;
  latency_ms: number;
  ttft_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  usage_estimated: boolean;
  status: number;
  error_code: string | null;
  error_message: string | null;
  stream: boolean;
  reason: string | null;
  content: unknown;
  /** `hit`: answered from the response cache (cost 0); `miss`: looked up and stored. */
  cache: string | null;
  /** A client's score of the answer (`POST /v1/feedback`), 0..1. */
  feedback_score: number | null;
  feedback_at: number | null;
  /** What the router weighed (null for requests that never got a decision, and older rows). */
  decision: DecisionRow | null;
  /** Per model that delivered part of the answer (null for older rows). */
  usage: UsageRow[] | null;
}

/** A row as SQLite returns it: JSON and booleans still encoded, plus the rowid. */
type StoredRow = Omit<
  RequestRow,
  'time' | 'models_tried' | 'usage_estimated' | 'stream' | 'content' | 'decision' | 'usage'
> & {
  id: number;
  models_tried: string;
  usage_estimated: number;
  stream: number;
  content: string | null;
  decision: string | null;
  usage: string | null;
};

const schema = `
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  client_key_id TEXT,
  task TEXT,
  priority TEXT,
  requested_model TEXT NOT NULL,
  model TEXT,
  models_tried TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  fallbacks INTEGER NOT NULL,
  retries INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  ttft_ms REAL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  usage_estimated INTEGER NOT NULL,
  status INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT,
  stream INTEGER NOT NULL,
  reason TEXT,
  content TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
`;

/** Columns added since the first schema: added to an older file when it is opened. */
const addedColumns: Array<[string, string]> = [
  ['api', "TEXT NOT NULL DEFAULT 'chat'"],
  ['client_request_id', 'TEXT'],
  ['feedback_score', 'REAL'],
  ['feedback_at', 'INTEGER'],
  ['cache', 'TEXT'],
  ['decision', 'TEXT'],
  ['usage', 'TEXT'],
];

const indexes = `
CREATE INDEX IF NOT EXISTS requests_request_id ON requests (request_id);
CREATE INDEX IF NOT EXISTS requests_key_ts ON requests (client_key_id, ts);
-- No query reads (model, ts): the model filter is "model OR requested_model", which SQLite
-- answers through requests_ts. Dropped from older files: every insert paid for it.
DROP INDEX IF EXISTS requests_model_ts;
`;

/**
 * Spend per model and hour (of the epoch, UTC), kept with the rows: the dashboard's spend today
 * at start reads a day's hours, not a day's rows (millions on a busy gateway).
 */
const hourlySpend = `
CREATE TABLE IF NOT EXISTS spend_by_hour (
  hour INTEGER NOT NULL,
  model TEXT NOT NULL,
  cost_usd REAL NOT NULL,
  PRIMARY KEY (hour, model)
) WITHOUT ROWID;
`;
const hourMs = 3_600_000;

/**
 * Rows per multi-row INSERT: one statement step per ten rows instead of per row. About 1 µs of
 * the ~10 µs a row cost (bench/README.md, round 12).
 */
const rowsPerInsert = 10;

const columns = [
  'request_id',
  'ts',
  'client_key_id',
  'task',
  'priority',
  'requested_model',
  'model',
  'models_tried',
  'attempts',
  'fallbacks',
  'retries',
  'latency_ms',
  'ttft_ms',
  'prompt_tokens',
  'completion_tokens',
  'cost_usd',
  'usage_estimated',
  'status',
  'error_code',
  'error_message',
  'stream',
  'reason',
  'content',
  'api',
  'client_request_id',
  'cache',
  'decision',
  'usage',
] as const;
const width = columns.length;

type Value = string | number | null;

export class RequestLog implements Partial<GatewayEvents> {
  readonly db: Database.Database;
  /** Rows dropped because the queue was full (or a write failed). */
  dropped = 0;
  /** Rows written since start. */
  written = 0;
  private queue: RequestSummary[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly insert: Database.Statement;
  /** `rowsPerInsert` rows in one statement. */
  private readonly insertMany: Database.Statement;
  private readonly addSpend: Database.Statement;
  private readonly writeBatch: (batch: RequestSummary[]) => void;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private readonly onError: (error: unknown, context: string) => void;
  private closed = false;

  constructor(private readonly options: RequestLogOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.batchSize = options.batchSize ?? 100;
    this.maxQueue = options.maxQueue ?? 50_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    // Prompts, keys' ids and spend live here: readable by this user only.
    this.db = openPrivateDatabase(options.path, schema);
    const present = new Set(
      (this.db.pragma('table_info(requests)') as Array<{ name: string }>).map((column) => column.name),
    );
    for (const [name, type] of addedColumns) {
      if (!present.has(name)) this.db.exec(`ALTER TABLE requests ADD COLUMN ${name} ${type}`);
    }
    this.db.exec(indexes);
    const hadHourlySpend = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spend_by_hour'")
      .get();
    this.db.exec(hourlySpend);
    // A log from before the table: its rows summed once (the only full scan).
    if (!hadHourlySpend) {
      this.db.exec(
        `INSERT INTO spend_by_hour (hour, model, cost_usd)
         SELECT ts / ${hourMs}, model, SUM(cost_usd) FROM requests WHERE model IS NOT NULL GROUP BY 1, 2`,
      );
    }
    this.addSpend = this.db.prepare(
      `INSERT INTO spend_by_hour (hour, model, cost_usd) VALUES (?, ?, ?)
       ON CONFLICT (hour, model) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd`,
    );
    // Positional parameters: binding an array costs about half of binding an object by name.
    const values = `(${columns.map(() => '?').join(', ')})`;
    const insertInto = `INSERT INTO requests (${columns.join(', ')}) VALUES `;
    this.insert = this.db.prepare(insertInto + values);
    this.insertMany = this.db.prepare(insertInto + Array(rowsPerInsert).fill(values).join(', '));
    this.writeBatch = this.db.transaction((batch: RequestSummary[]) => {
      // Model -> hour -> spend: no "hour model" string built and hashed per row.
      const spend = new Map<string, Map<number, number>>();
      // Whole chunks of rowsPerInsert rows, then the rest one by one, in queue order.
      const whole = batch.length - (batch.length % rowsPerInsert);
      const chunk = new Array<Value>(rowsPerInsert * width);
      const single = new Array<Value>(width);
      for (let i = 0; i < batch.length; i++) {
        const summary = batch[i]!;
        if (i < whole) {
          const slot = i % rowsPerInsert;
          this.fillRow(summary, chunk, slot * width);
          if (slot === rowsPerInsert - 1) this.insertMany.run(chunk);
        } else {
          this.fillRow(summary, single, 0);
          this.insert.run(single);
        }
        if (summary.model === undefined || summary.costUsd === 0) continue;
        const hour = Math.floor(Math.round(summary.startedAt) / hourMs);
        let hours = spend.get(summary.model);
        if (!hours) {
          hours = new Map();
          spend.set(summary.model, hours);
        }
        hours.set(hour, (hours.get(hour) ?? 0) + summary.costUsd);
      }
      for (const [model, hours] of spend)
        for (const [hour, cost] of hours) this.addSpend.run(hour, model, cost);
    });
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), options.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  /** The event sink: queue only; the write happens later, in a batch. */
  requestFinished(summary: RequestSummary): void {
    if (this.closed) return;
    this.queue.push(summary);
    if (this.queue.length > this.maxQueue) {
      // Drop a tenth at once, so a backlog costs one splice per many rows, not one per row.
      const excess = this.queue.length - Math.floor(this.maxQueue * 0.9);
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.queue.length >= this.batchSize) {
      if (!this.immediate) this.immediate = setImmediate(() => this.flush());
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), this.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.queue.length;
  }

  /** Write everything queued, in one transaction. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.flushTimer = undefined;
    this.immediate = undefined;
    if (this.queue.length === 0 || !this.db.open) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.writeBatch(batch);
      this.written += batch.length;
    } catch (error) {
      this.dropped += batch.length;
      this.onError(error, 'request log write failed');
    }
  }

  /** Write the row's values, in `columns` order, into `into` from `at`. */
  private fillRow(summary: RequestSummary, into: Value[], at: number): void {
    into[at] = summary.requestId;
    into[at + 1] = Math.round(summary.startedAt);
    into[at + 2] = summary.clientKeyId ?? null;
    into[at + 3] = summary.task ?? null;
    into[at + 4] = summary.priority ?? null;
    into[at + 5] = summary.requestedModel;
    into[at + 6] = summary.model ?? null;
    into[at + 7] = attemptsJson(summary.attempts);
    into[at + 8] = summary.attempts.length;
    into[at + 9] = summary.fallbacks;
    into[at + 10] = summary.retries;
    into[at + 11] = Math.round(summary.latencyMs * 100) / 100;
    into[at + 12] = summary.ttftMs === undefined ? null : Math.round(summary.ttftMs * 100) / 100;
    into[at + 13] = summary.promptTokens;
    into[at + 14] = summary.completionTokens;
    into[at + 15] = summary.costUsd;
    into[at + 16] = summary.usageEstimated ? 1 : 0;
    into[at + 17] = summary.status;
    into[at + 18] = summary.errorCode ?? null;
    into[at + 19] = summary.errorMessage ?? null;
    into[at + 20] = summary.stream ? 1 : 0;
    into[at + 21] = summary.reason ?? null;
    into[at + 22] = this.options.logContent && summary.content ? JSON.stringify(summary.content) : null;
    into[at + 23] = summary.api;
    into[at + 24] = summary.clientRequestId ?? null;
    into[at + 25] = summary.cache ?? null;
    into[at + 26] = summary.candidates ? decisionJson(summary.candidates) : null;
    into[at + 27] = usageJson(summary.usage);
  }

  /** Delete rows older than the retention period. Returns how many went. */
  prune(): number {
    if (!this.db.open) return 0;
    try {
      const cutoff = this.now() - this.options.retentionDays * dayMs;
      this.db.prepare('DELETE FROM spend_by_hour WHERE hour < ?').run(Math.floor(cutoff / hourMs));
      return this.db.prepare('DELETE FROM requests WHERE ts < ?').run(cutoff).changes;
    } catch (error) {
      this.onError(error, 'request log prune failed');
      return 0;
    }
  }

  /** Newest first, filtered; `next_cursor` continues after the last row (null at the end). */
  query(query: RequestQuery = {}): { data: RequestRow[]; next_cursor: string | null } {
    const limit = query.limit ?? 50;
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (query.model !== undefined) {
      where.push('(model = ? OR requested_model = ?)');
      params.push(query.model, query.model);
    }
    if (query.key !== undefined) {
      where.push('client_key_id = ?');
      params.push(query.key);
    }
    if (query.api !== undefined) {
      where.push('api = ?');
      params.push(query.api);
    }
    if (query.task !== undefined) {
      where.push('task = ?');
      params.push(query.task);
    }
    if (query.status !== undefined) {
      const [low, high] = statusRange(query.status);
      where.push('status >= ? AND status <= ?');
      params.push(low, high);
    }
    if (query.since !== undefined) {
      where.push('ts >= ?');
      params.push(query.since);
    }
    if (query.until !== undefined) {
      where.push('ts < ?');
      params.push(query.until);
    }
    if (query.cursor !== undefined) {
      const { ts, id } = decodeCursor(query.cursor);
      where.push('(ts < ? OR (ts = ? AND id < ?))');
      params.push(ts, ts, id);
    }
    const sql = `SELECT * FROM requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, limit + 1) as StoredRow[];
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const last = rows[rows.length - 1];
    return { data: rows.map(toPublic), next_cursor: more && last ? encodeCursor(last.ts, last.id) : null };
  }

  /**
   * Store a client's score (0..1) beside the request's row. False when no such request is in
   * the log (unknown id, or pruned).
   */
  setFeedback(requestId: string, score: number): boolean {
    this.flush(); // the request may have finished a moment ago
    if (!this.db.open) return false;
    return (
      this.db
        .prepare('UPDATE requests SET feedback_score = ?, feedback_at = ? WHERE request_id = ?')
        .run(score, Math.round(this.now()), requestId).changes > 0
    );
  }

  /** One request's row by its id (the latest, should an id repeat); undefined when not in the log. */
  get(requestId: string): RequestRow | undefined {
    this.flush(); // it may have finished a moment ago
    if (!this.db.open) return undefined;
    const row = this.db
      .prepare('SELECT * FROM requests WHERE request_id = ? ORDER BY id DESC LIMIT 1')
      .get(requestId) as StoredRow | undefined;
    return row && toPublic(row);
  }

  /** Rows with feedback (for training the learned router), newest first. */
  feedback(limit = 100_000): RequestRow[] {
    if (!this.db.open) return [];
    const rows = this.db
      .prepare('SELECT * FROM requests WHERE feedback_score IS NOT NULL ORDER BY ts DESC LIMIT ?')
      .all(limit) as StoredRow[];
    return rows.map(toPublic);
  }

  /**
   * Spend per model (answering model) since `sinceMs`, from the log: whole hours from the hourly
   * sums, the rest of the hour `sinceMs` falls in (a half-hour time zone's midnight) from its rows.
   */
  spendSince(sinceMs: number): Map<string, number> {
    const spend = new Map<string, number>();
    if (!this.db.open) return spend;
    const firstWholeHour = Math.ceil(sinceMs / hourMs);
    const add = (rows: Array<{ model: string; cost: number }>) => {
      for (const row of rows) spend.set(row.model, (spend.get(row.model) ?? 0) + row.cost);
    };
    add(
      this.db
        .prepare('SELECT model, SUM(cost_usd) AS cost FROM spend_by_hour WHERE hour >= ? GROUP BY model')
        .all(firstWholeHour) as Array<{ model: string; cost: number }>,
    );
    if (sinceMs < firstWholeHour * hourMs) {
      add(
        this.db
          .prepare(
            'SELECT model, SUM(cost_usd) AS cost FROM requests WHERE ts >= ? AND ts < ? AND model IS NOT NULL GROUP BY model',
          )
          .all(sinceMs, firstWholeHour * hourMs) as Array<{ model: string; cost: number }>,
      );
    }
    return spend;
  }

  /** Flush what is queued, stop the timers and close the database. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.pruneTimer);
    if (this.db.open) this.db.close();
  }
}

function toPublic(row: StoredRow): RequestRow {
  const { id: _id, ...rest } = row;
  return {
    ...rest,
    time: new Date(row.ts).toISOString(),
    models_tried: JSON.parse(row.models_tried) as AttemptRow[],
    usage_estimated: row.usage_estimated === 1,
    stream: row.stream === 1,
    content: row.content === null ? null : (JSON.parse(row.content) as unknown),
    decision: row.decision == null ? null : (JSON.parse(row.decision) as DecisionRow),
    usage: row.usage == null ? null : (JSON.parse(row.usage) as UsageRow[]),
  };
}
