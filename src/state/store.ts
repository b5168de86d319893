/**
 * The state several gateway instances will share (breaker state, health, rate-limit counters,
 * spend) goes through this small async interface. In memory today; a Redis implementation
 * plugs in without touching callers.
 */
export interface StateStore {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, ttlMs?: number): Promise<void>;
  /** Add to a counter and return the new value; the TTL is set when the key is created. */
  increment(key: string, by: number, ttlMs?: number): Promise<number>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  value: unknown;
  expiresAt: number | undefined;
}

/** A process-local store. `now` is injected so TTLs follow virtual time in the simulator. */
export class MemoryStore implements StateStore {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly now: () => number = Date.now) {}

  async get<T>(key: string): Promise<T | undefined> {
    return this.read(key) as T | undefined;
  }

  async set<T>(key: string, value: T, ttlMs?: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs });
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const current = this.read(key);
    const next = (typeof current === 'number' ? current : 0) + by;
    const existing = this.entries.get(key);
    const expiresAt =
      existing && current !== undefined
        ? existing.expiresAt
        : ttlMs === undefined
          ? undefined
          : this.now() + ttlMs;
    this.entries.set(key, { value: next, expiresAt });
    return next;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private read(key: string): unknown {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }
}
