/**
 * Stored Responses API responses (`store: true`), so a later request can continue one with
 * `previous_response_id` and a client can `GET` or `DELETE` it: one SQLite table (better-sqlite3,
 * WAL), local to this instance.
 *
 * Each row is one JSON document the front door chose (the response object and the conversation
 * it answered), owned by the client key that created it: another key neither reads nor deletes
 * it. Rows larger than `maxBytes` are not kept (put() says so), and rows older than the
 * retention are pruned at open and hourly, and never returned once expired.
 *
 * Writes are synchronous on purpose: a client may name the response in its very next request.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

const dayMs = 86_400_000;

export interface ResponseStoreOptions {
  /** SQLite file; `:memory:` keeps the rows in memory. */
  path: string;
  retentionDays: number;
  /** Largest document kept, in bytes of JSON. */
  maxBytes: number;
  /** Prune interval (ms). Default one hour. */
  pruneIntervalMs?: number;
  /** Wall clock, ms (tests). */
  now?: () => number;
  /** Told about storage failures (the request goes on without storing). */
  onError?: (error: unknown, context: string) => void;
}

/** Why put() kept nothing. */
export type NotStored = 'too_large' | 'failed';

const schema = `
CREATE TABLE IF NOT EXISTS responses (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_ms);
`;

/**
 * @example
 * const store = new ResponseStore({ path: '.switchyard/responses.db', retentionDays: 30, maxBytes: 8 << 20 });
 * store.put('resp_1', 'key_ab12', { response, input });
 * store.get<{ response: unknown }>('resp_1', 'key_ab12');
 */
export class ResponseStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly onError: (error: unknown, context: string) => void;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly removeOld: Database.Statement;
  private closed = false;

  constructor(private readonly options: ResponseStoreOptions) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    const inMemory = options.path === ':memory:' || options.path === '';
    if (!inMemory) {
      // Conversations live here: readable by this user only.
      const folder = dirname(options.path);
      const created = !existsSync(folder);
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      if (created) chmodSync(folder, 0o700);
    }
    this.db = new Database(inMemory ? ':memory:' : options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(schema);
    if (!inMemory) {
      for (const file of [options.path, `${options.path}-wal`, `${options.path}-shm`]) {
        if (existsSync(file)) chmodSync(file, 0o600);
      }
    }
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO responses (id, owner, created_ms, bytes, document) VALUES (?, ?, ?, ?, ?)',
    );
    this.select = this.db.prepare(
      'SELECT document FROM responses WHERE id = ? AND owner = ? AND created_ms >= ?',
    );
    this.remove = this.db.prepare('DELETE FROM responses WHERE id = ? AND owner = ?');
    this.removeOld = this.db.prepare('DELETE FROM responses WHERE created_ms < ?');
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), options.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  /**
   * Keep `document` under `id` for `owner` (a client key's id; '' for an open API). Returns
   * true when stored, else why not; never throws into the request.
   */
  put(id: string, owner: string, document: unknown): true | NotStored {
    if (this.closed) return 'failed';
    let text: string;
    try {
      text = JSON.stringify(document);
    } catch (error) {
      this.onError(error, 'response store: document is not JSON');
      return 'failed';
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.options.maxBytes) return 'too_large';
    try {
      this.insert.run(id, owner, this.now(), bytes, text);
      return true;
    } catch (error) {
      this.onError(error, 'response store write failed');
      return 'failed';
    }
  }

  /** The document stored under `id` for `owner`, unless it expired or another key owns it. */
  get<T>(id: string, owner: string): T | undefined {
    if (this.closed) return undefined;
    const row = this.select.get(id, owner, this.cutoff()) as { document: string } | undefined;
    return row ? (JSON.parse(row.document) as T) : undefined;
  }

  /** Delete `id` for `owner`; true when a row went. */
  delete(id: string, owner: string): boolean {
    if (this.closed) return false;
    return this.remove.run(id, owner).changes > 0;
  }

  /** Delete rows past the retention; returns how many went. */
  prune(): number {
    if (this.closed) return 0;
    try {
      return this.removeOld.run(this.cutoff()).changes;
    } catch (error) {
      this.onError(error, 'response store prune failed');
      return 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.db.close();
  }

  private cutoff(): number {
    return this.now() - this.options.retentionDays * dayMs;
  }
}
