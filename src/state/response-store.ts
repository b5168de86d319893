/**
 * Stored Responses API responses (`store: true`), so a later request can continue one with
 * `previous_response_id` and a client can `GET` or `DELETE` it: one SQLite table (better-sqlite3,
 * WAL), local to this instance.
 *
 * Each row is one JSON document the front door chose (the response object and the conversation
 * it answered), owned by the client key that created it: another key neither reads nor deletes
 * it. A document may name the ids of items inside it, so a later request can refer to one item
 * (`item_reference`) and find its document. Rows larger than `maxBytes` are not kept (put() says
 * so), and rows older than the retention are pruned at open and hourly, and never returned once
 * expired.
 *
 * Writes are synchronous on purpose: a client may name the response in its very next request.
 */
import type Database from 'better-sqlite3';
import { openPrivateDatabase } from './sqlite.ts';

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
CREATE TABLE IF NOT EXISTS response_items (
  item_id TEXT PRIMARY KEY,
  response_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS response_items_response ON response_items (response_id);
CREATE INDEX IF NOT EXISTS response_items_created ON response_items (created_ms);
`;

/**
 * @example
 * const store = new ResponseStore({ path: '.switchyard/responses.db', retentionDays: 30, maxBytes: 8 << 20 });
 * store.put('resp_1', 'key_ab12', { response, input }, ['msg_1', 'fc_1']);
 * store.get<{ response: unknown }>('resp_1', 'key_ab12');
 * store.getByItem<{ response: unknown }>('fc_1', 'key_ab12'); // the same document
 */
export class ResponseStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly onError: (error: unknown, context: string) => void;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly selectByItem: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly removeOld: Database.Statement;
  private readonly write: (id: string, owner: string, bytes: number, text: string, items: string[]) => void;
  private readonly removeWithItems: (id: string, owner: string) => number;
  private readonly prunePast: (cutoff: number) => number;
  private closed = false;

  constructor(private readonly options: ResponseStoreOptions) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    // Conversations live here: readable by this user only.
    this.db = openPrivateDatabase(options.path, schema);
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO responses (id, owner, created_ms, bytes, document) VALUES (?, ?, ?, ?, ?)',
    );
    this.select = this.db.prepare(
      'SELECT document FROM responses WHERE id = ? AND owner = ? AND created_ms >= ?',
    );
    this.selectByItem = this.db.prepare(
      `SELECT r.document FROM response_items i JOIN responses r ON r.id = i.response_id
       WHERE i.item_id = ? AND i.owner = ? AND r.owner = i.owner AND r.created_ms >= ?`,
    );
    this.remove = this.db.prepare('DELETE FROM responses WHERE id = ? AND owner = ?');
    this.removeOld = this.db.prepare('DELETE FROM responses WHERE created_ms < ?');
    const insertItem = this.db.prepare(
      'INSERT OR REPLACE INTO response_items (item_id, response_id, owner, created_ms) VALUES (?, ?, ?, ?)',
    );
    const removeItems = this.db.prepare('DELETE FROM response_items WHERE response_id = ? AND owner = ?');
    const removeOldItems = this.db.prepare('DELETE FROM response_items WHERE created_ms < ?');
    this.write = this.db.transaction(
      (id: string, owner: string, bytes: number, text: string, items: string[]) => {
        const now = this.now();
        this.insert.run(id, owner, now, bytes, text);
        for (const item of items) insertItem.run(item, id, owner, now);
      },
    );
    this.removeWithItems = this.db.transaction((id: string, owner: string) => {
      const removed = this.remove.run(id, owner).changes;
      if (removed > 0) removeItems.run(id, owner);
      return removed;
    });
    this.prunePast = this.db.transaction((cutoff: number) => {
      removeOldItems.run(cutoff);
      return this.removeOld.run(cutoff).changes;
    });
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), options.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  /**
   * Keep `document` under `id` for `owner` (a client key's id; '' for an open API), findable too
   * by the ids of the items in `itemIds`. Returns true when stored, else why not; never throws
   * into the request.
   */
  put(id: string, owner: string, document: unknown, itemIds: readonly string[] = []): true | NotStored {
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
      this.write(id, owner, bytes, text, [...itemIds]);
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

  /** The document holding the item `itemId`, for `owner`, unless it expired. */
  getByItem<T>(itemId: string, owner: string): T | undefined {
    if (this.closed) return undefined;
    const row = this.selectByItem.get(itemId, owner, this.cutoff()) as { document: string } | undefined;
    return row ? (JSON.parse(row.document) as T) : undefined;
  }

  /** Delete `id` (and its item index) for `owner`; true when a row went. */
  delete(id: string, owner: string): boolean {
    if (this.closed) return false;
    return this.removeWithItems(id, owner) > 0;
  }

  /** Delete rows past the retention; returns how many went. */
  prune(): number {
    if (this.closed) return 0;
    try {
      return this.prunePast(this.cutoff());
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
