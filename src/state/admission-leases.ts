/**
 * Admission leases: most admissions of a fleet instance are served from units it already took in
 * the shared store, without a round trip. An admission that has to go to the store asks, per
 * bucket, for extra units (`Bucket.extra`); the store grants them only while more than half the
 * bucket's limit stays free (`leaseGrant`), so near a limit every admission is exact again. The
 * next admissions touching the same buckets take from those units locally, all buckets or none.
 *
 * What a lease may hold, and for how long:
 * - a window: units in the store slot they were taken in, used only until a margin before that
 *   slot ends (so each counts for as long as an admission of its own would, to within the margin);
 * - a quota (a budget): an amount, for `leaseMs`;
 * - concurrency: extra slots, lent to requests and given back by their settle, for `leaseMs`
 *   (a slot still lent when its lease ends is released in the store when its request ends).
 * When a lease ends, its unused units go back to the store (a negative settle into its slot).
 *
 * Nothing is ever admitted that the store did not take first, so no bucket is overshot. The price:
 * units one instance holds are not free for the others until they are used or given back (within
 * `leaseMs`, one window slot at most), and the remaining counts in rate-limit headers are this
 * instance's view (the store's at the lease, less what was used here since).
 *
 * A settle whose window or quota correction falls into a live lease of the same bucket and slot
 * is folded into the lease (the refund carries it to the store); any other settle goes on to the
 * store as before.
 *
 * One refill at a time: when a lease runs out (or a window's ends with its slot), the admission
 * that finds it so asks the store for the next batch, and the admissions arriving meanwhile wait
 * for that answer instead of each going to the store and each taking a batch (a waiter the batch
 * did not cover goes on to the store, and the refill it sends counts those still waiting). A
 * bucket whose last refill was granted nothing (near its limit) is not waited for.
 */
import type { Adjustment, Admission, AdmissionResult, Admitted, Bucket, BucketState } from './store.ts';
import { fits, leaseSlotId, windowSlot, windowSlots } from './store.ts';

/** The two calls of a store that admission uses (a `Store` has them). */
export interface Admissions {
  admit(admission: Admission): Promise<AdmissionResult>;
  settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void>;
}

export interface AdmissionLeasesOptions {
  /** Local monotonic ms (default `performance.now`). */
  now?: () => number;
  /** Longest a lease is used (default 1000 ms); a window's also ends with its slot. */
  leaseMs?: number;
  /** A window lease stops this long before its slot ends (default 20 ms: store clock estimates drift by a round trip). */
  slotMarginMs?: number;
  /** Most admissions' worth of units one lease asks for (default 256; concurrency: 64 slots). */
  maxBatch?: number;
  /** While true, every admission goes to the store as is (a degraded store serves locally anyway). */
  bypass?: () => boolean;
  /** A refund that failed (the store degrades on its own; this only reports). */
  onError?: (error: unknown) => void;
}

interface Lease {
  /** The bucket as it was when the lease was taken: a changed limit or window ends the lease. */
  readonly bucket: Bucket;
  /** The admission that took it, and the store clock then: refunds settle into its slot. */
  readonly admitted: Admitted;
  /** Local ms when the admission that took it was sent (the store's `at` is no earlier), and when the lease stops being used. */
  readonly takenAt: number;
  readonly endsAt: number;
  /** Window and quota: units left (negative when settles corrected upwards). */
  units: number;
  /** Concurrency: free slot ids. */
  readonly slots: string[];
  /** The store's remaining units after the grant (for headers). */
  remaining: number;
  /** Admissions served from it. */
  used: number;
  ended: boolean;
}

/** A concurrency slot lent to a local admission. */
interface Lent {
  slot: string;
  lease: Lease;
  /** Local ms when lent: an entry whose settle never came is dropped once the store forgot the slot. */
  lentAt: number;
}

const minBatch = 4;
/** Most ids remembered as taken in the failover store's local state, and most starved bucket keys (oldest forgotten first). */
const maxRemembered = 10_000;
/** How many refills in a row an admission waits for before it goes to the store itself. */
const maxRefillWaits = 3;
const maxConcurrencyBatch = 64;
/** A window whose slots are shorter than this is not leased (a lease would rarely outlive its round trip). */
const minSlotMs = 200;

export class AdmissionLeases implements Admissions {
  private readonly leases = new Map<string, Lease>();
  /** Admissions served by the last lease of each bucket key: the next asks for twice as many. */
  private readonly demand = new Map<string, number>();
  /** `${admission id} ${bucket key}` -> the slot lent to it. */
  private readonly lent = new Map<string, Lent>();
  /** Admissions the store took in its local state (shared state unreachable): settled as they are. */
  private readonly unshared = new Set<string>();
  /** Bucket key -> the latest admission at the store asking extra units for it (one refill at a time). */
  private readonly refilling = new Map<string, Promise<unknown>>();
  /** Bucket key -> admissions waiting for its refill. */
  private readonly waiting = new Map<string, number>();
  /** Bucket keys whose last refill was granted nothing (near the limit, refused, or degraded). */
  private readonly starved = new Set<string>();
  /** Admissions waiting for the store and refunds under way: `close()` waits for both. */
  private readonly pending = new Set<Promise<unknown>>();
  private lastLentSweep = 0;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly slotMarginMs: number;
  private readonly maxBatch: number;
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  /** Admissions served locally and through the store, for `stats`. */
  private local = 0;
  private remote = 0;

  constructor(
    private readonly store: Admissions,
    private readonly options: AdmissionLeasesOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.leaseMs = options.leaseMs ?? 1000;
    this.slotMarginMs = options.slotMarginMs ?? 20;
    this.maxBatch = options.maxBatch ?? 256;
    // Unused units go back soon after a lease ends, even when no admission comes to notice.
    this.sweep = setInterval(() => this.endExpired(), Math.max(10, Math.min(100, this.leaseMs / 4)));
    this.sweep.unref();
  }

  /** Admissions served from leases and through the store since start; leases live, slots lent now. */
  get stats(): { local: number; remote: number; leases: number; lent: number } {
    return { local: this.local, remote: this.remote, leases: this.leases.size, lent: this.lent.size };
  }

  async admit(admission: Admission): Promise<AdmissionResult> {
    if (this.closed || admission.buckets.length === 0 || this.options.bypass?.()) {
      return this.admitUnleased(admission);
    }
    let now = this.now();
    let leases = this.usableLeases(admission.buckets, now);
    if (leases) return this.admitLocally(admission, leases, now);
    // Every bucket it lacks is being refilled: wait for that answer rather than send another
    // (when a lease runs out, or a window's ends with its slot, the admissions of that moment
    // would otherwise all go to the store, each taking a batch).
    for (let waits = 0; waits < maxRefillWaits; waits++) {
      const refills = this.refillsFor(admission.buckets, now);
      if (!refills) break;
      this.countWaiting(refills.keys, 1);
      await refills.done;
      this.countWaiting(refills.keys, -1);
      // Closed or degraded meanwhile: as any admission then, straight to the store.
      if (this.closed || this.options.bypass?.()) return this.admitUnleased(admission);
      now = this.now();
      leases = this.usableLeases(admission.buckets, now);
      if (leases) return this.admitLocally(admission, leases, now);
    }
    return this.track(this.admitThroughStore(admission, now));
  }

  async settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void> {
    const now = this.now();
    // Degraded, or taken while degraded: corrections go to the store's local state, not into leases of the shared one.
    const fold = !this.unshared.delete(admission.id) && !this.closed && !this.options.bypass?.();
    const forward: Adjustment[] = [];
    const released: Promise<void>[] = [];
    for (let adjustment of adjustments) {
      if (adjustment.kind === 'concurrency') {
        const name = `${admission.id} ${adjustment.key}`;
        const lent = this.lent.get(name);
        if (lent) {
          this.lent.delete(name);
          if (this.live(lent.lease, now)) lent.lease.slots.push(lent.slot);
          else released.push(this.store.settle({ id: lent.slot, at: admission.at }, [adjustment]));
          continue;
        }
      } else {
        const lease = this.leases.get(adjustment.key);
        if (fold && lease && this.live(lease, now) && this.sameSpell(lease, adjustment, admission.at)) {
          // A refund folds whole; a rise only as far as the lease has units (the store hears the rest now).
          const folded =
            adjustment.delta <= 0 ? adjustment.delta : Math.min(adjustment.delta, Math.max(0, lease.units));
          lease.units -= folded;
          if (folded === adjustment.delta) continue;
          adjustment = { ...adjustment, delta: adjustment.delta - folded };
        }
      }
      forward.push(adjustment);
    }
    if (forward.length > 0) released.push(this.store.settle(admission, forward));
    await Promise.all(released);
  }

  /**
   * End every lease (their unused units go back to the store) and wait for the refunds, and for
   * admissions still waiting for the store (what they are granted goes straight back).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    for (const lease of [...this.leases.values()]) void this.end(lease);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** A live lease for every bucket, each with room for its amount; undefined when one is missing. */
  private usableLeases(buckets: readonly Bucket[], now: number): Lease[] | undefined {
    const leases: Lease[] = [];
    for (const bucket of buckets) {
      const lease = this.usableLease(bucket, now);
      if (!lease || leases.includes(lease)) return undefined;
      leases.push(lease);
    }
    return leases;
  }

  private usableLease(bucket: Bucket, now: number): Lease | undefined {
    const lease = this.leases.get(bucket.key);
    if (!lease || !this.live(lease, now) || !sameBucket(lease.bucket, bucket)) return undefined;
    const room =
      bucket.kind === 'concurrency' ? lease.slots.length > 0 : fits(bucket.amount, lease.units, bucket.limit);
    return room ? lease : undefined;
  }

  /** Admissions waiting for a refill of each bucket key: the next refill asks for them too. */
  private countWaiting(keys: readonly string[], change: number): void {
    for (const key of keys) {
      const count = (this.waiting.get(key) ?? 0) + change;
      if (count > 0) this.waiting.set(key, count);
      else this.waiting.delete(key);
    }
  }

  /** The refills under way for every bucket without a usable lease; undefined when one has none. */
  private refillsFor(
    buckets: readonly Bucket[],
    now: number,
  ): { keys: string[]; done: Promise<unknown> } | undefined {
    const keys: string[] = [];
    const refills: Promise<unknown>[] = [];
    for (const bucket of buckets) {
      if (this.usableLease(bucket, now)) continue;
      const refill = this.refilling.get(bucket.key);
      if (!refill || this.starved.has(bucket.key)) return undefined;
      keys.push(bucket.key);
      refills.push(refill);
    }
    if (refills.length === 0) return undefined;
    return { keys, done: refills.length === 1 ? refills[0]! : Promise.all(refills) };
  }

  private admitLocally(admission: Admission, leases: Lease[], now: number): AdmissionResult {
    this.local++;
    // The store's clock now, as the first lease saw it (within a round trip).
    const storeNow = leases[0]!.admitted.at + (now - leases[0]!.takenAt);
    const states: BucketState[] = [];
    admission.buckets.forEach((bucket, index) => {
      const lease = leases[index]!;
      lease.used++;
      if (bucket.kind === 'concurrency') {
        this.lent.set(`${admission.id} ${bucket.key}`, { slot: lease.slots.pop()!, lease, lentAt: now });
        states.push({ remaining: lease.remaining + lease.slots.length, resetMs: 0 });
        return;
      }
      lease.units -= bucket.amount;
      const resetMs =
        bucket.kind === 'window'
          ? (windowSlot(lease.admitted.at, bucket.windowMs) + windowSlots + 1) *
              (bucket.windowMs / windowSlots) -
            storeNow
          : Math.max(0, bucket.expiresAtMs - storeNow);
      states.push({ remaining: lease.remaining + lease.units, resetMs });
    });
    // `at` for the settle: inside every window lease's slot (the estimate may be a little past it).
    let at = storeNow;
    for (const lease of leases) {
      if (lease.bucket.kind !== 'window') continue;
      const slotMs = lease.bucket.windowMs / windowSlots;
      const slot = windowSlot(lease.admitted.at, lease.bucket.windowMs);
      at = Math.min(Math.max(at, slot * slotMs), (slot + 1) * slotMs - 1);
    }
    return { admitted: true, buckets: states, now: at };
  }

  private async admitThroughStore(admission: Admission, now: number): Promise<AdmissionResult> {
    this.remote++;
    const stale: Promise<void>[] = [];
    const buckets = admission.buckets.map((bucket) => {
      const lease = this.leases.get(bucket.key);
      // A lease of a bucket whose limit changed goes back first (the store then sees the new limit with nothing held).
      if (lease && !sameBucket(lease.bucket, bucket)) stale.push(this.end(lease));
      else if (lease && !this.live(lease, now)) void this.end(lease);
      const extra = this.extraFor(
        bucket,
        lease && this.live(lease, now) && sameBucket(lease.bucket, bucket) ? lease : undefined,
      );
      return extra > 0 ? { ...bucket, extra } : bucket;
    });
    if (stale.length > 0) await Promise.all(stale);
    // Leases are timed from the send: the store took them at `result.now`, at or after this.
    const sentAt = this.now();
    // Admissions that wait for this refill resume once its leases are in place (or it failed).
    let refilled = noop;
    const refill = new Promise<void>((resolve) => {
      refilled = resolve;
    });
    const refilledKeys = buckets.filter((bucket) => bucket.extra).map((bucket) => bucket.key);
    for (const key of refilledKeys) this.refilling.set(key, refill);
    try {
      return this.leaseFrom(
        admission,
        buckets,
        sentAt,
        await this.store.admit({ id: admission.id, buckets }),
      );
    } finally {
      for (const key of refilledKeys) if (this.refilling.get(key) === refill) this.refilling.delete(key);
      refilled();
    }
  }

  /** Keep what the store granted as leases; the result as the caller sees it. */
  private leaseFrom(
    admission: Admission,
    buckets: readonly Bucket[],
    sentAt: number,
    answer: AdmissionResult,
  ): AdmissionResult {
    const result = this.noteUnshared(admission, answer);
    // Near its limit a bucket is granted nothing: the next admissions do not wait for a refill of
    // it. A refusal says so only of the bucket that refused; the local state says nothing of any.
    for (const [index, bucket] of buckets.entries()) {
      if (!bucket.extra || result.local) continue;
      if (result.admitted && result.buckets[index]!.granted) this.starved.delete(bucket.key);
      else if (result.admitted || index === (result.refusedIndex ?? 0))
        this.remember(this.starved, bucket.key);
    }
    if (!result.admitted || result.local) return result;
    buckets.forEach((bucket, index) => {
      const state = result.buckets[index]!;
      const granted = state.granted;
      if (!granted) return;
      this.addLease(bucket, { id: admission.id, at: result.now }, sentAt, granted, state.remaining);
      // From this instance's view the granted units are still free (it will use them).
      state.remaining += granted;
      state.granted = undefined;
    });
    // Closed meanwhile: what was just granted goes straight back.
    if (this.closed) for (const lease of [...this.leases.values()]) void this.end(lease);
    return result;
  }

  /** Straight to the store, no lease asked for or used (closed, bypassed, nothing to admit). */
  private async admitUnleased(admission: Admission): Promise<AdmissionResult> {
    return this.noteUnshared(admission, await this.store.admit(admission));
  }

  /** Remember an admission the store took in its local state, so its settle is never folded. */
  private noteUnshared(admission: Admission, result: AdmissionResult): AdmissionResult {
    if (result.local && result.admitted) this.remember(this.unshared, admission.id);
    return result;
  }

  /** Add to a bounded set, forgetting its oldest entry when full. */
  private remember(set: Set<string>, value: string): void {
    set.delete(value);
    if (set.size >= maxRemembered) set.delete(set.values().next().value!);
    set.add(value);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = () => this.pending.delete(work);
    work.then(done, done);
    return work;
  }

  /** Units to ask for beyond the amount: twice what the live or last lease served, within bounds. */
  private extraFor(bucket: Bucket, live: Lease | undefined): number {
    if (bucket.kind === 'window' && bucket.windowMs / windowSlots < minSlotMs) return 0;
    const unit = bucket.kind === 'concurrency' ? 1 : bucket.amount;
    if (!(unit > 0)) return 0;
    // A live lease that still has plenty needs no more.
    if (live && (bucket.kind === 'concurrency' ? live.slots.length > 0 : live.units >= 2 * unit)) return 0;
    const cap = bucket.kind === 'concurrency' ? maxConcurrencyBatch : this.maxBatch;
    const served = Math.max(this.demand.get(bucket.key) ?? 0, live?.used ?? 0);
    const batch = Math.min(cap, Math.max(minBatch, 2 * served + (this.waiting.get(bucket.key) ?? 0)));
    return unit * batch;
  }

  private addLease(
    bucket: Bucket,
    admitted: Admitted,
    takenAt: number,
    granted: number,
    remaining: number,
  ): void {
    const existing = this.leases.get(bucket.key);
    if (existing && this.live(existing, this.now()) && sameBucket(existing.bucket, bucket)) {
      const sameSlot =
        bucket.kind !== 'window' ||
        windowSlot(existing.admitted.at, bucket.windowMs) === windowSlot(admitted.at, bucket.windowMs);
      if (sameSlot) {
        if (bucket.kind === 'concurrency') existing.slots.push(...slotIds(admitted.id, granted));
        else existing.units += granted;
        existing.remaining = remaining;
        return;
      }
    }
    if (existing) void this.end(existing);
    const lease: Lease = {
      bucket,
      admitted,
      takenAt,
      endsAt: takenAt + this.lifetime(bucket, admitted.at),
      units: bucket.kind === 'concurrency' ? 0 : granted,
      slots: bucket.kind === 'concurrency' ? slotIds(admitted.id, granted) : [],
      remaining,
      used: 0,
      ended: false,
    };
    this.leases.set(bucket.key, lease);
    // A lease that cannot be used (its slot is about to end, or the answer came late) goes straight back.
    if (lease.endsAt <= this.now()) void this.end(lease);
  }

  /** Local ms a lease taken at store time `at` may be used. */
  private lifetime(bucket: Bucket, at: number): number {
    if (bucket.kind === 'window') {
      const slotMs = bucket.windowMs / windowSlots;
      const slotEnd = (windowSlot(at, bucket.windowMs) + 1) * slotMs;
      return Math.min(this.leaseMs, slotEnd - this.slotMarginMs - at);
    }
    if (bucket.kind === 'quota') return Math.min(this.leaseMs, bucket.expiresAtMs - this.slotMarginMs - at);
    return Math.min(this.leaseMs, bucket.leaseMs / 2);
  }

  private live(lease: Lease, now: number): boolean {
    return !lease.ended && now < lease.endsAt;
  }

  /** Whether a correction of an admission at store time `at` belongs to the lease's spell of the bucket. */
  private sameSpell(lease: Lease, adjustment: Adjustment, at: number): boolean {
    const bucket = lease.bucket;
    if (adjustment.kind === 'window')
      return (
        bucket.kind === 'window' &&
        bucket.windowMs === adjustment.windowMs &&
        windowSlot(at, bucket.windowMs) === windowSlot(lease.admitted.at, bucket.windowMs)
      );
    return (
      adjustment.kind === 'quota' && bucket.kind === 'quota' && bucket.expiresAtMs === adjustment.expiresAtMs
    );
  }

  /** Give the lease's unused units back to the store. */
  private end(lease: Lease): Promise<void> {
    if (lease.ended) return Promise.resolve();
    lease.ended = true;
    if (this.leases.get(lease.bucket.key) === lease) this.leases.delete(lease.bucket.key);
    // Bounded: bucket keys of past budget periods are forgotten with the rest.
    if (this.demand.size >= 10_000) this.demand.clear();
    this.demand.set(lease.bucket.key, lease.used);
    const bucket = lease.bucket;
    let refund: Promise<unknown>;
    if (bucket.kind === 'concurrency') {
      refund = Promise.all(
        lease.slots
          .splice(0)
          .map((slot) =>
            this.store.settle({ id: slot, at: lease.admitted.at }, [
              { kind: 'concurrency', key: bucket.key },
            ]),
          ),
      );
    } else if (lease.units === 0) {
      return Promise.resolve();
    } else if (bucket.kind === 'window') {
      refund = this.store.settle(lease.admitted, [
        { kind: 'window', key: bucket.key, windowMs: bucket.windowMs, delta: -lease.units },
      ]);
    } else {
      refund = this.store.settle(lease.admitted, [
        { kind: 'quota', key: bucket.key, delta: -lease.units, expiresAtMs: bucket.expiresAtMs },
      ]);
    }
    return this.track(
      refund.then(
        () => undefined,
        (error: unknown) => this.options.onError?.(error),
      ),
    );
  }

  private endExpired(): void {
    const now = this.now();
    for (const lease of [...this.leases.values()]) if (!this.live(lease, now)) void this.end(lease);
    // Once a second: a lent slot whose request never settled is gone from the store by now.
    if (now - this.lastLentSweep < 1000) return;
    this.lastLentSweep = now;
    for (const [name, lent] of this.lent) {
      const bucket = lent.lease.bucket;
      if (bucket.kind === 'concurrency' && now - lent.lentAt > bucket.leaseMs) this.lent.delete(name);
    }
  }
}

function noop(): void {}

function slotIds(id: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => leaseSlotId(id, index + 1));
}

/** The same bucket with the same limit and span. */
function sameBucket(a: Bucket, b: Bucket): boolean {
  if (a.kind !== b.kind || a.limit !== b.limit) return false;
  if (a.kind === 'window') return b.kind === 'window' && a.windowMs === b.windowMs;
  if (a.kind === 'quota') return b.kind === 'quota' && a.expiresAtMs === b.expiresAtMs;
  return b.kind === 'concurrency' && a.leaseMs === b.leaseMs;
}
