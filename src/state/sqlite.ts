/**
 * This instance's own SQLite files (the request log, stored responses, virtual keys): prompts,
 * keys' hashes and spend live there, so each is readable by this user only — a 0600 file (and its
 * WAL and shared-memory files) in a 0700 folder — and opened the same way (WAL, a busy timeout).
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Whether `path` names an in-memory database rather than a file. */
export function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}

/** Open (creating it if needed) a private database and run `schema` on it. */
export function openPrivateDatabase(path: string, schema: string): Database.Database {
  const inMemory = isInMemory(path);
  if (!inMemory) {
    const folder = dirname(path);
    const created = !existsSync(folder);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (created) chmodSync(folder, 0o700);
  }
  const db = new Database(inMemory ? ':memory:' : path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  if (!inMemory) {
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  }
  return db;
}
