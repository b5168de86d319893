/**
 * Where key records live and how every instance learns of a change. Records sit in the store
 * (`stateKeys.keyRecord(id)`, and the id in the `stateKeys.keyIndex()` set); a single instance also
 * persists them in SQLite and mirrors them into its store at start. Every write is published on
 * the `keys` channel; each instance caches records in memory, drops an entry when it hears of a
 * change (a new, changed or revoked key is seen everywhere within milliseconds), and re-reads an
 * entry older than `ttlMs` anyway, in case a message was lost (Redis restarting, say).
 */

import { stateChannels, stateKeys } from '../state/keys.ts';
import type { Key, Store } from '../state/store.ts';
import type { KeyDatabase } from './database.ts';
import type { KeyRecord } from './record.ts';

export interface DirectoryOptions {
  store: Store;
  /** A single instance's SQLite database (absent for a fleet). */
  database?: KeyDatabase;
  /** How long a cached record (or its absence) is trusted without a message, ms. Default 1000. */
  ttlMs?: number;
  now?: () => number;
  onError: (error: unknown) => void;
}

export type KeyChange = 'created' | 'updated' | 'revoked';

interface Cached {
  at: number;
  record: Promise<KeyRecord | undefined>;
}

/** Unknown ids are cached too (a client retrying a bad key must not cost a store read each time): bounded. */
const maxCached = 10_000;
const countRefreshMs = 5_000;

const recordKey = (id: string) => stateKeys.keyRecord(id) as Key<KeyRecord>;

export class KeyDirectory {
  private readonly cache = new Map<string, Cached>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private count = 0;
  private stopListening: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Told about every change heard on the channel (this instance's own included). */
  onChange: ((id: string, change: KeyChange) => void) | undefined;

  constructor(private readonly options: DirectoryOptions) {
    this.ttlMs = options.ttlMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { store, database } = this.options;
    for (const record of database?.records() ?? []) {
      await store.set(recordKey(record.id), record);
      await store.addToSet(stateKeys.keyIndex(), record.id);
    }
    this.stopListening = store.subscribe(stateChannels.keys, (message) => this.heard(message));
    await this.refreshCount();
    this.timer = setInterval(() => this.refreshCount().catch(this.options.onError), countRefreshMs);
    this.timer.unref();
  }

  /** Whether any key was ever made (revoked ones included: revoking the last key must not open the API). */
  get anyKey(): boolean {
    return this.count > 0;
  }

  lookup(id: string): Promise<KeyRecord | undefined> {
    const now = this.now();
    const hit = this.cache.get(id);
    if (hit && now - hit.at < this.ttlMs) return hit.record;
    if (this.cache.size >= maxCached) this.cache.clear();
    const record = this.options.store.get(recordKey(id));
    this.cache.set(id, { at: now, record });
    record.catch(() => this.cache.delete(id));
    return record;
  }

  /** Store a new record; false when its id is taken (then draw another id). */
  async create(record: KeyRecord): Promise<boolean> {
    const { store, database } = this.options;
    if (!(await store.set(recordKey(record.id), record, { onlyIfAbsent: true }))) return false;
    database?.save(record);
    await store.addToSet(stateKeys.keyIndex(), record.id);
    this.count++;
    await this.announce(record, 'created');
    return true;
  }

  /**
   * Change a record with compare-and-set (two admins patching at once both land, in turn).
   * `change` returns the new record, or undefined to leave it. Undefined when there is no such key.
   */
  async update(
    id: string,
    change: (record: KeyRecord) => KeyRecord | undefined,
    kind: KeyChange,
  ): Promise<KeyRecord | undefined> {
    const { store, database } = this.options;
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await store.getVersioned(recordKey(id));
      if (!current) return undefined;
      const next = change(current.value);
      if (!next) return current.value;
      if ((await store.compareAndSet(recordKey(id), current.version, next)) === undefined) continue;
      database?.save(next);
      await this.announce(next, kind);
      return next;
    }
    throw new Error(`key ${id}: too many concurrent changes`);
  }

  async list(): Promise<KeyRecord[]> {
    const { store } = this.options;
    const ids = await store.setMembers(stateKeys.keyIndex());
    const records = await store.getMany(ids.map(recordKey));
    return records
      .filter((record): record is KeyRecord => record !== undefined)
      .sort((a, b) => a.created_at - b.created_at);
  }

  close(): void {
    this.stopListening?.();
    clearInterval(this.timer);
    this.cache.clear();
  }

  private async announce(record: KeyRecord, change: KeyChange): Promise<void> {
    this.cache.set(record.id, { at: this.now(), record: Promise.resolve(record) });
    await this.options.store.publish(stateChannels.keys, JSON.stringify({ id: record.id, change }));
  }

  private heard(message: string): void {
    let parsed: { id?: unknown; change?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.id !== 'string') return;
    this.cache.delete(parsed.id);
    if (parsed.change === 'created') this.count = Math.max(this.count, 1);
    this.onChange?.(parsed.id, parsed.change as KeyChange);
  }

  /** Re-read how many keys exist. */
  async refreshCount(): Promise<void> {
    this.count = (await this.options.store.setMembers(stateKeys.keyIndex())).length;
  }
}
