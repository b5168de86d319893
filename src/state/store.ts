/**
 * The state a fleet of gateway instances shares (breaker state, 429 cool-downs, rate-limit
 * windows, budgets, spend, virtual keys, leases) goes through this one async interface.
 * `MemoryStore` serves one process; `RedisStore` serves a fleet. Callers never learn which.
 *
 * Every value is JSON under a typed key (`Key<T>`), so a key and the type of what it holds are
 * declared once (`keys.ts`). Limits are not get-then-set: `admit` checks and takes from every
 * bucket a request touches in one atomic step, on the store's own clock, and `settle` corrects
 * the reservation afterwards. A store prefixes every key and channel with its own prefix.
 */

/** A key and the type of the value stored under it. */
export interface Key<T> {
  readonly name: string;
  /** Never set: carries the value type. */
  readonly __value?: T;
}

export function key<T>(name: string): Key<T> {
  return { name };
}

export interface SetOptions {
  ttlMs?: number;
  /** Write only if the key holds nothing; `set` then answers whether it wrote. */
  onlyIfAbsent?: boolean;
}

export interface Versioned<T> {
  value: T;
  /** Starts at 1 with the first write and grows by one with every write. */
  version: number;
}

/**
 * One limit a request counts against. `key` names the bucket (built by `keys.ts`).
 * - `window`: the sum of `amount`s admitted in any `windowMs` stays at or below `limit` (rpm and
 *   tpm caps). Kept as `windowSlots` + 1 slots of `windowMs / windowSlots` each (the running
 *   slot and the whole ones before it): an amount counts from its admission until its slot is
 *   more than a window old, so between one window and one slot (1 s of a minute) after it. No
 *   burst at window edges, and the memory of a window is bounded whatever the request rate.
 * - `concurrency`: at most `limit` admissions hold a slot at once; a slot is released by
 *   `settle`, or expires after `leaseMs` if its holder died.
 * - `quota`: the running total stays at or below `limit` until the bucket expires at
 *   `expiresAtMs` (a budget per period; amounts may be fractional, e.g. USD).
 */
export type Bucket = (
  | { kind: 'window'; key: string; limit: number; windowMs: number; amount: number }
  | { kind: 'concurrency'; key: string; limit: number; leaseMs: number }
  | { kind: 'quota'; key: string; limit: number; amount: number; expiresAtMs: number }
) & {
  /**
   * Units to take beyond the amount for later admissions of this instance (an admission lease,
   * `admission-leases.ts`), granted only as far as `leaseGrant` allows; never a reason to refuse.
   * Concurrency: extra slots, held under the ids `leaseSlotId(id, 1..granted)`.
   */
  extra?: number;
};

export interface Admission {
  /** Unique per admission; `settle` refers to it. */
  id: string;
  buckets: readonly Bucket[];
}

export interface BucketState {
  /** Units left after this admission (when refused: units left now). */
  remaining: number;
  /**
   * Store-clock ms until the bucket has `limit` units free again (window: the newest entry
   * expires, after an admission that is this one; quota: the period ends; concurrency: 0 while
   * a slot is free, else until the soonest lease ends).
   */
  resetMs: number;
  /** Units taken beyond the amount (`Bucket.extra`); `remaining` already counts them as taken. */
  granted?: number;
}

export interface AdmissionResult {
  admitted: boolean;
  /** When refused: the first bucket that could not take its amount. */
  refusedIndex?: number;
  /** When refused: ms until that bucket could take the amount (Infinity when it never can). */
  retryAfterMs?: number;
  /** One per bucket, in order. */
  buckets: BucketState[];
  /** The store's clock at admission, ms since the epoch. */
  now: number;
  /** Taken in this instance's own state because the shared one was unreachable (`FailoverStore`). */
  local?: boolean;
}

/** The admission a settle corrects: its id and the store-clock time it was admitted at (`AdmissionResult.now`). */
export interface Admitted {
  id: string;
  at: number;
}

/** Corrections after the request ended, per bucket of the admission. */
export type Adjustment =
  /** Change this admission's amount in the window by `delta` (real usage minus the reservation). */
  | { kind: 'window'; key: string; windowMs: number; delta: number }
  /** Add `delta` to the quota total (real cost minus the reservation). */
  | { kind: 'quota'; key: string; delta: number; expiresAtMs: number }
  /** Give this admission's slot back. */
  | { kind: 'concurrency'; key: string };

export interface Store {
  readonly kind: 'memory' | 'redis';
  get<T>(key: Key<T>): Promise<T | undefined>;
  getMany<T>(keys: readonly Key<T>[]): Promise<Array<T | undefined>>;
  /** Returns false only when `onlyIfAbsent` kept an existing value. */
  set<T>(key: Key<T>, value: T, options?: SetOptions): Promise<boolean>;
  delete(key: Key<unknown>): Promise<void>;
  /** Add `by` (fractional or negative) atomically; a new key starts at 0 and gets `ttlMs`. */
  increment(key: Key<number>, by: number, ttlMs?: number): Promise<number>;
  getVersioned<T>(key: Key<T>): Promise<Versioned<T> | undefined>;
  /**
   * Write `value` only if the stored version is `expectedVersion` (0: the key holds nothing).
   * Returns the new version, or undefined when another writer got there first.
   */
  compareAndSet<T>(
    key: Key<T>,
    expectedVersion: number,
    value: T,
    ttlMs?: number,
  ): Promise<number | undefined>;
  /** Take the lease if it is free or already `owner`'s (then renew it). */
  acquireLease(key: Key<string>, owner: string, ttlMs: number): Promise<boolean>;
  /** Give the lease back if `owner` holds it. */
  releaseLease(key: Key<string>, owner: string): Promise<void>;
  /** A set of strings (indexes, e.g. every virtual key id). */
  addToSet(key: Key<string[]>, member: string): Promise<void>;
  removeFromSet(key: Key<string[]>, member: string): Promise<void>;
  setMembers(key: Key<string[]>): Promise<string[]>;
  /** Check every bucket and take from all of them, or from none. */
  admit(admission: Admission): Promise<AdmissionResult>;
  /** Correct an admission's reservations (real usage known) and release its slots. */
  settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void>;
  /** Units in a window bucket now (for reports; admission never needs it). */
  windowTotal(key: string, windowMs: number): Promise<number>;
  /** Deliver `message` to every subscriber of `channel` on every instance (this one included). */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, listener: (message: string) => void): () => void;
  /** The store's clock, ms since the epoch (Redis: its TIME). */
  time(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Whether `amount` fits in `room`, forgiving float rounding (a billionth of the limit): ten
 * requests of $0.10 fit a $1 budget whichever way the running total happened to round.
 * `RedisStore`'s scripts use the same rule.
 */
export function fits(amount: number, room: number, limit: number): boolean {
  return amount <= room + 1e-9 * Math.max(1, Math.abs(limit));
}

/**
 * How much of `extra` an admission may take beyond its amount, with `room` left after the amount:
 * nothing unless more than half the limit would stay free, then at most a quarter of what is
 * free above that half, in whole amounts (a concurrency unit is one slot). So admission is exact
 * near a limit, and units held for later never keep much of a bucket from other instances.
 * `RedisStore`'s admission script uses the same rule.
 */
export function leaseGrant(extra: number | undefined, unit: number, room: number, limit: number): number {
  if (!extra || extra <= 0 || !(unit > 0)) return 0;
  const grant = Math.min(extra, (room - limit / 2) / 4);
  return grant >= unit ? unit * Math.floor(grant / unit) : 0;
}

/** The id of a lease's `n`th extra concurrency slot (n from 1), as the store holds it. */
export function leaseSlotId(id: string, n: number): string {
  return `${id}+${n}`;
}

interface Entry {
  value: unknown;
  version: number;
  expiresAt: number | undefined;
}

/** Slots per window (and one more for the running slot): see `Bucket`. */
export const windowSlots = 60;

/** The slot an instant falls in, for a window of `windowMs`. */
export function windowSlot(atMs: number, windowMs: number): number {
  return Math.floor(atMs / (windowMs / windowSlots));
}

/** When an amount taken in `slot` stops counting. */
export function slotLeavesAt(slot: number, windowMs: number): number {
  return (slot + windowSlots + 1) * (windowMs / windowSlots);
}

interface SlottedWindow {
  /** Amount per slot: a ring indexed by slot number modulo its length. */
  amounts: Float64Array;
  /** The lowest slot that may hold an amount (every slot below it is empty). */
  oldest: number;
  /** The highest slot taken from. */
  newest: number;
  total: number;
}

const ringLength = windowSlots + 1;

interface SlotSet {
  /** Admission id -> lease expiry. */
  holders: Map<string, number>;
}

/**
 * A process-local store on an injected clock (ms since the epoch; the simulator passes virtual
 * time). Every operation completes before its promise resolves, so it is atomic by construction.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly windows = new Map<string, SlottedWindow>();
  private readonly slots = new Map<string, SlotSet>();
  private readonly listeners = new Map<string, Set<(message: string) => void>>();

  constructor(private readonly now: () => number = Date.now) {}

  async get<T>(key: Key<T>): Promise<T | undefined> {
    return this.read(key.name)?.value as T | undefined;
  }

  async getMany<T>(keys: readonly Key<T>[]): Promise<Array<T | undefined>> {
    return keys.map((key) => this.read(key.name)?.value as T | undefined);
  }

  async set<T>(key: Key<T>, value: T, options: SetOptions = {}): Promise<boolean> {
    const existing = this.read(key.name);
    if (options.onlyIfAbsent && existing) return false;
    this.write(key.name, value, (existing?.version ?? 0) + 1, options.ttlMs);
    return true;
  }

  async delete(key: Key<unknown>): Promise<void> {
    this.entries.delete(key.name);
  }

  async increment(key: Key<number>, by: number, ttlMs?: number): Promise<number> {
    const existing = this.read(key.name);
    const next = (typeof existing?.value === 'number' ? existing.value : 0) + by;
    if (existing) {
      existing.value = next;
      existing.version++;
    } else {
      this.write(key.name, next, 1, ttlMs);
    }
    return next;
  }

  async getVersioned<T>(key: Key<T>): Promise<Versioned<T> | undefined> {
    const entry = this.read(key.name);
    return entry ? { value: entry.value as T, version: entry.version } : undefined;
  }

  async compareAndSet<T>(
    key: Key<T>,
    expectedVersion: number,
    value: T,
    ttlMs?: number,
  ): Promise<number | undefined> {
    const current = this.read(key.name)?.version ?? 0;
    if (current !== expectedVersion) return undefined;
    this.write(key.name, value, current + 1, ttlMs);
    return current + 1;
  }

  async acquireLease(key: Key<string>, owner: string, ttlMs: number): Promise<boolean> {
    const holder = this.read(key.name);
    if (holder && holder.value !== owner) return false;
    this.write(key.name, owner, (holder?.version ?? 0) + 1, ttlMs);
    return true;
  }

  async releaseLease(key: Key<string>, owner: string): Promise<void> {
    if (this.read(key.name)?.value === owner) this.entries.delete(key.name);
  }

  async addToSet(key: Key<string[]>, member: string): Promise<void> {
    const members = new Set((this.read(key.name)?.value as string[] | undefined) ?? []);
    members.add(member);
    this.write(key.name, [...members], 1, undefined);
  }

  async removeFromSet(key: Key<string[]>, member: string): Promise<void> {
    const members = (this.read(key.name)?.value as string[] | undefined) ?? [];
    this.write(
      key.name,
      members.filter((existing) => existing !== member),
      1,
      undefined,
    );
  }

  async setMembers(key: Key<string[]>): Promise<string[]> {
    return [...((this.read(key.name)?.value as string[] | undefined) ?? [])];
  }

  async admit(admission: Admission): Promise<AdmissionResult> {
    const now = this.now();
    const states: BucketState[] = [];
    let refusedIndex: number | undefined;
    let retryAfterMs: number | undefined;
    admission.buckets.forEach((bucket, index) => {
      const check = this.check(bucket, now);
      states.push({ remaining: check.remaining, resetMs: check.resetMs });
      if (refusedIndex === undefined && check.retryAfterMs !== undefined) {
        refusedIndex = index;
        retryAfterMs = check.retryAfterMs;
      }
    });
    if (refusedIndex !== undefined) {
      return { admitted: false, refusedIndex, retryAfterMs, buckets: states, now };
    }
    admission.buckets.forEach((bucket, index) => {
      const state = states[index]!;
      const unit = bucket.kind === 'concurrency' ? 1 : bucket.amount;
      const granted = leaseGrant(bucket.extra, unit, state.remaining - unit, bucket.limit);
      this.take(bucket, admission.id, now, granted);
      state.remaining -= unit + granted;
      if (granted > 0) state.granted = granted;
      // This admission is now in the window's newest slot: the window is clear when it leaves.
      if (bucket.kind === 'window')
        state.resetMs = slotLeavesAt(this.windows.get(bucket.key)!.newest, bucket.windowMs) - now;
    });
    return { admitted: true, buckets: states, now };
  }

  async settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void> {
    const now = this.now();
    for (const adjustment of adjustments) {
      if (adjustment.kind === 'concurrency') {
        this.slots.get(adjustment.key)?.holders.delete(admission.id);
      } else if (adjustment.kind === 'quota') {
        const existing = this.read(adjustment.key);
        const total = (typeof existing?.value === 'number' ? existing.value : 0) + adjustment.delta;
        this.write(adjustment.key, total, 1, Math.max(1, adjustment.expiresAtMs - now));
      } else {
        // Into the admission's own slot, unless that has left the window (then it no longer counts).
        const window = this.prunedWindow(adjustment.key, adjustment.windowMs, now);
        const slot = windowSlot(admission.at, adjustment.windowMs);
        if (window && slot >= window.oldest && slot <= window.newest) {
          window.amounts[slot % ringLength]! += adjustment.delta;
          window.total += adjustment.delta;
        }
      }
    }
  }

  async windowTotal(key: string, windowMs: number): Promise<number> {
    return this.prunedWindow(key, windowMs, this.now())?.total ?? 0;
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const listener of this.listeners.get(channel) ?? []) listener(message);
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  async time(): Promise<number> {
    return this.now();
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.windows.clear();
    this.slots.clear();
    this.listeners.clear();
  }

  /** Whether the bucket can take its amount now; `retryAfterMs` is set when it cannot. */
  private check(bucket: Bucket, now: number): { remaining: number; resetMs: number; retryAfterMs?: number } {
    if (bucket.kind === 'concurrency') {
      // Leases expire only when a holder died without settling: they are looked for only when
      // the slots look full (not on every admission, which would walk every request in flight).
      let holders = this.slots.get(bucket.key)?.holders;
      if (holders && holders.size >= bucket.limit) holders = this.prunedSlots(bucket.key, now);
      const used = holders?.size ?? 0;
      const remaining = bucket.limit - used;
      if (remaining >= 1) return { remaining, resetMs: 0 };
      let soonest = Number.POSITIVE_INFINITY;
      for (const expiry of holders?.values() ?? []) soonest = Math.min(soonest, expiry - now);
      return { remaining, resetMs: soonest, retryAfterMs: Math.max(1, soonest) };
    }
    if (bucket.kind === 'quota') {
      const spent = this.read(bucket.key)?.value;
      const used = typeof spent === 'number' ? spent : 0;
      const remaining = bucket.limit - used;
      const resetMs = Math.max(0, bucket.expiresAtMs - now);
      if (fits(bucket.amount, remaining, bucket.limit)) return { remaining, resetMs };
      return {
        remaining,
        resetMs,
        retryAfterMs: fits(bucket.amount, bucket.limit, bucket.limit) ? Math.max(1, resetMs) : Infinity,
      };
    }
    const window = this.prunedWindow(bucket.key, bucket.windowMs, now);
    const remaining = bucket.limit - (window?.total ?? 0);
    const resetMs = window ? Math.max(0, slotLeavesAt(window.newest, bucket.windowMs) - now) : 0;
    if (fits(bucket.amount, remaining, bucket.limit)) return { remaining, resetMs };
    if (!window || !fits(bucket.amount, bucket.limit, bucket.limit))
      return { remaining, resetMs, retryAfterMs: Infinity };
    // The oldest slots leave the window first: wait until enough of them have.
    let freed = remaining;
    for (let slot = window.oldest; slot <= window.newest; slot++) {
      freed += window.amounts[slot % ringLength]!;
      if (fits(bucket.amount, freed, bucket.limit))
        return { remaining, resetMs, retryAfterMs: Math.max(1, slotLeavesAt(slot, bucket.windowMs) - now) };
    }
    return { remaining, resetMs, retryAfterMs: Math.max(1, resetMs) };
  }

  /** Take the bucket's amount and `granted` more (extra slots, for concurrency). */
  private take(bucket: Bucket, id: string, now: number, granted: number): void {
    if (bucket.kind === 'concurrency') {
      let set = this.slots.get(bucket.key);
      if (!set) {
        set = { holders: new Map() };
        this.slots.set(bucket.key, set);
      }
      set.holders.set(id, now + bucket.leaseMs);
      for (let n = 1; n <= granted; n++) set.holders.set(leaseSlotId(id, n), now + bucket.leaseMs);
    } else if (bucket.kind === 'quota') {
      const spent = this.read(bucket.key)?.value;
      const total = (typeof spent === 'number' ? spent : 0) + bucket.amount + granted;
      this.write(bucket.key, total, 1, Math.max(1, bucket.expiresAtMs - now));
    } else {
      let slot = windowSlot(now, bucket.windowMs);
      let window = this.windows.get(bucket.key);
      if (!window) {
        window = { amounts: new Float64Array(ringLength), oldest: slot, newest: slot, total: 0 };
        this.windows.set(bucket.key, window);
      }
      // A clock that stepped back: into the oldest slot still counted (never one that left).
      slot = Math.max(slot, window.oldest);
      window.newest = Math.max(window.newest, slot);
      window.amounts[slot % ringLength]! += bucket.amount + granted;
      window.total += bucket.amount + granted;
    }
  }

  /** The window with the slots that left it emptied; undefined when nothing in it counts any more. */
  private prunedWindow(key: string, windowMs: number, now: number): SlottedWindow | undefined {
    const window = this.windows.get(key);
    if (!window) return undefined;
    const first = windowSlot(now, windowMs) - windowSlots; // the oldest slot that still counts
    if (window.newest < first) {
      this.windows.delete(key);
      return undefined;
    }
    // At most a ring's length: `oldest` is never more than a window below `newest`.
    for (; window.oldest < first; window.oldest++) {
      const index = window.oldest % ringLength;
      window.total -= window.amounts[index]!;
      window.amounts[index] = 0;
    }
    return window;
  }

  private prunedSlots(key: string, now: number): Map<string, number> | undefined {
    const set = this.slots.get(key);
    if (!set) return undefined;
    set.holders.forEach((expiry, id) => {
      if (expiry <= now) set.holders.delete(id);
    });
    return set.holders;
  }

  private read(name: string): Entry | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.entries.delete(name);
      return undefined;
    }
    return entry;
  }

  private write(name: string, value: unknown, version: number, ttlMs: number | undefined): void {
    this.entries.set(name, {
      value,
      version,
      expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs,
    });
  }
}
