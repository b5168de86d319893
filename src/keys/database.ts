/**
 * A single instance's key records and usage, in SQLite (better-sqlite3) beside the request log:
 * `keys.db`, 0600 in a 0700 folder (`:memory:` when the request log is in memory). It holds each
 * key's HMAC hash, never the key. Usage rows (spend and requests per key per period: `total`,
 * `day:…`, `week:…`, `month:…`) outlive a restart, so a budget is not reset by one.
 * A fleet keeps all of this in the shared store instead.
 */
import type Database from 'better-sqlite3';
import { openPrivateDatabase } from '../state/sqlite.ts';
import type { KeyRecord } from './record.ts';

export interface UsageRow {
  usd: number;
  requests: number;
  lastUsedAt: number | undefined;
}

export interface UsageDelta {
  id: string;
  period: string;
  usd: number;
  requests: number;
  lastUsedAt: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_usage (
  key_id TEXT NOT NULL,
  period TEXT NOT NULL,
  usd REAL NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  PRIMARY KEY (key_id, period)
);
`;

export const keyDatabaseName = 'keys.db';

export class KeyDatabase {
  readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly addUsageRow: Database.Statement;
  private readonly readUsage: Database.Statement;
  private readonly writeUsage: (deltas: readonly UsageDelta[]) => void;

  constructor(readonly path: string) {
    this.db = openPrivateDatabase(path, schema);
    this.upsert = this.db.prepare(
      `INSERT INTO keys (id, name, key_hash, created_at, revoked_at, record)
       VALUES (@id, @name, @key_hash, @created_at, @revoked_at, @record)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, revoked_at = excluded.revoked_at, record = excluded.record`,
    );
    this.addUsageRow = this.db.prepare(
      `INSERT INTO key_usage (key_id, period, usd, requests, last_used_at) VALUES (@id, @period, @usd, @requests, @lastUsedAt)
       ON CONFLICT (key_id, period) DO UPDATE SET usd = usd + excluded.usd, requests = requests + excluded.requests,
         last_used_at = max(coalesce(last_used_at, 0), excluded.last_used_at)`,
    );
    this.readUsage = this.db.prepare(
      'SELECT usd, requests, last_used_at FROM key_usage WHERE key_id = ? AND period = ?',
    );
    this.writeUsage = this.db.transaction((deltas: readonly UsageDelta[]) => {
      for (const delta of deltas) this.addUsageRow.run(delta);
    });
  }

  records(): KeyRecord[] {
    const rows = this.db.prepare('SELECT record FROM keys ORDER BY created_at').all() as Array<{
      record: string;
    }>;
    return rows.map((row) => JSON.parse(row.record) as KeyRecord);
  }

  save(record: KeyRecord): void {
    this.upsert.run({
      id: record.id,
      name: record.name,
      key_hash: record.key_hash,
      created_at: record.created_at,
      revoked_at: record.revoked_at ?? null,
      record: JSON.stringify(record),
    });
  }

  addUsage(deltas: readonly UsageDelta[]): void {
    if (deltas.length > 0) this.writeUsage(deltas);
  }

  usage(id: string, period: string): UsageRow | undefined {
    const row = this.readUsage.get(id, period) as
      | { usd: number; requests: number; last_used_at: number | null }
      | undefined;
    return row
      ? { usd: row.usd, requests: row.requests, lastUsedAt: row.last_used_at ?? undefined }
      : undefined;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
