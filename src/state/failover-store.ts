/**
 * The store a fleet instance actually uses: Redis when it answers, this process's memory when it
 * does not. No call ever fails because Redis is slow, down or restarting.
 *
 * Healthy: every call goes to Redis (each bounded by RedisStore's command timeout). The local
 * store keeps a mirror of what this instance read and wrote (values with their remaining TTL,
 * sets, the spend of its quota buckets), so it can carry on from the last values it saw.
 *
 * Degraded (the first Redis error or timeout): one warning line, `degraded` is true, listeners
 * hear it, and every call answers from the local store without touching Redis; a PING every
 * `checkIntervalMs` looks for Redis. When it answers, the spend recorded locally meanwhile
 * (increments without a TTL, quota charges whose period has not ended) is added to Redis, the
 * store switches back and listeners hear it (re-sync views such as breaker state then).
 *
 * What holds while degraded:
 * - every limit is per instance: window caps and concurrency slots start empty, so N instances
 *   admit up to N times a fleet-wide cap; quota buckets (budgets) continue from the spend this
 *   instance last saw, so each instance may spend up to what was left then;
 * - breaker state, cool-downs and leases are this instance's own (it probes and sends half-open
 *   trials for itself); published messages reach only this instance's subscribers;
 * - values read before the outage stay readable until they would have expired (virtual keys and
 *   the key secret keep working); writes made while degraded stay local and are not copied to
 *   Redis, except spend as said above;
 * - versions of compare-and-set are local: a version read from Redis no longer matches, so the
 *   writer re-reads and retries.
 *
 * @example
 * const store = new FailoverStore(new RedisStore({ url, prefix }), new MemoryStore(), { logger });
 * await store.start();
 * store.onStateChange(({ degraded }) => { if (!degraded) resyncBreakerViews(); });
 */
import { type ExpiringValue, neverReachedRedis } from './redis-store.ts';
import type {
  Adjustment,
  Admission,
  AdmissionResult,
  Admitted,
  Key,
  MemoryStore,
  SetOptions,
  Store,
  Versioned,
} from './store.ts';
import { key as keyOf } from './store.ts';

/** Pino-compatible: only `warn` is required. */
export interface StateLogger {
  warn(object: object, message?: string): void;
  info?(object: object, message?: string): void;
}

/** What FailoverStore needs from its shared store (RedisStore has it). */
export interface RemoteStore extends Store {
  ping(): Promise<void>;
  getManyWithExpiry<T>(keys: readonly Key<T>[]): Promise<Array<ExpiringValue<T> | undefined>>;
  waitUntilReady?(timeoutMs?: number): Promise<boolean>;
}

export interface StateChange {
  degraded: boolean;
  /** When the degraded spell began (epoch ms); on recovery, when the one that ended began. */
  sinceMs: number;
  /** The error that started it (degraded only). */
  reason?: string;
}

export interface FailoverStoreOptions {
  logger: StateLogger;
  /** How often to PING Redis while degraded (default 1000 ms). */
  checkIntervalMs?: number;
  /** Epoch ms, for `degradedSinceMs` (default Date.now). */
  now?: () => number;
}

const maxPendingReleases = 10_000;

function withoutExtras(admission: Admission): Admission {
  if (!admission.buckets.some((bucket) => bucket.extra !== undefined)) return admission;
  return { ...admission, buckets: admission.buckets.map(({ extra: _extra, ...bucket }) => bucket) };
}

interface PendingQuota {
  amount: number;
  expiresAtMs: number;
}

export class FailoverStore implements Store {
  readonly kind = 'redis';
  private degradedSince: number | undefined;
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly checkIntervalMs: number;
  private readonly now: () => number;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private closed = false;
  /** Admissions taken locally (their settle stays local) -> whether their spend is replayed. */
  private readonly localAdmissions = new Map<string, boolean>();
  /** Spend recorded locally while degraded, added to Redis on recovery. */
  private readonly pendingIncrements = new Map<string, number>();
  private readonly pendingQuotas = new Map<string, PendingQuota>();
  /**
   * Concurrency slots Redis holds whose release failed (`${key} ${id}` -> both), released on
   * recovery: otherwise each would block a slot of the fleet until its lease in Redis expires.
   */
  private readonly pendingReleases = new Map<string, { key: string; id: string }>();

  constructor(
    private readonly remote: RemoteStore,
    private readonly local: MemoryStore,
    private readonly options: FailoverStoreOptions,
  ) {
    this.checkIntervalMs = options.checkIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Whether calls are answered from local state. */
  get degraded(): boolean {
    return this.degradedSince !== undefined;
  }

  /** Epoch ms when the current degraded spell began; undefined when healthy. */
  get degradedSinceMs(): number | undefined {
    return this.degradedSince;
  }

  /** Hear every switch to local state and back. Returns a function that stops listening. */
  onStateChange(listener: (change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wait for Redis (at most `timeoutMs`); if it is not there, start degraded. */
  async start(timeoutMs = 2000): Promise<void> {
    const ready = (await this.remote.waitUntilReady?.(timeoutMs)) ?? true;
    if (!ready) this.enterDegraded(new Error(`Redis not reachable within ${timeoutMs} ms at start`));
  }

  async get<T>(key: Key<T>): Promise<T | undefined> {
    return (await this.getMany([key]))[0];
  }

  async getMany<T>(keys: readonly Key<T>[]): Promise<Array<T | undefined>> {
    return this.attempt(
      async () => {
        const entries = await this.remote.getManyWithExpiry(keys);
        return entries.map((entry, index) => {
          const key = keys[index]!;
          if (entry) void this.local.set(key, entry.value, { ttlMs: entry.ttlMs });
          else void this.local.delete(key);
          return entry?.value;
        });
      },
      () => this.local.getMany(keys),
    );
  }

  async set<T>(key: Key<T>, value: T, options: SetOptions = {}): Promise<boolean> {
    return this.attempt(
      async () => {
        const written = await this.remote.set(key, value, options);
        if (written) void this.local.set(key, value, { ttlMs: options.ttlMs });
        return written;
      },
      () => this.local.set(key, value, options),
    );
  }

  async delete(key: Key<unknown>): Promise<void> {
    return this.attempt(
      async () => {
        await this.remote.delete(key);
        void this.local.delete(key);
      },
      () => this.local.delete(key),
    );
  }

  async increment(key: Key<number>, by: number, ttlMs?: number): Promise<number> {
    return this.attempt(
      async () => {
        const value = await this.remote.increment(key, by, ttlMs);
        // A counter without a TTL (spend) is mirrored; one with a TTL starts afresh locally.
        if (ttlMs === undefined) void this.local.set(key, value);
        return value;
      },
      (maybeApplied) => {
        if (ttlMs === undefined && !maybeApplied) {
          this.pendingIncrements.set(key.name, (this.pendingIncrements.get(key.name) ?? 0) + by);
        }
        return this.local.increment(key, by, ttlMs);
      },
    );
  }

  async getVersioned<T>(key: Key<T>): Promise<Versioned<T> | undefined> {
    return this.attempt(
      () => this.remote.getVersioned(key),
      () => this.local.getVersioned(key),
    );
  }

  async compareAndSet<T>(
    key: Key<T>,
    expectedVersion: number,
    value: T,
    ttlMs?: number,
  ): Promise<number | undefined> {
    return this.attempt(
      async () => {
        const version = await this.remote.compareAndSet(key, expectedVersion, value, ttlMs);
        if (version !== undefined) void this.local.set(key, value, { ttlMs });
        return version;
      },
      () => this.local.compareAndSet(key, expectedVersion, value, ttlMs),
    );
  }

  async acquireLease(key: Key<string>, owner: string, ttlMs: number): Promise<boolean> {
    return this.attempt(
      () => this.remote.acquireLease(key, owner, ttlMs),
      () => this.local.acquireLease(key, owner, ttlMs),
    );
  }

  async releaseLease(key: Key<string>, owner: string): Promise<void> {
    return this.attempt(
      () => this.remote.releaseLease(key, owner),
      () => this.local.releaseLease(key, owner),
    );
  }

  async addToSet(key: Key<string[]>, member: string): Promise<void> {
    return this.attempt(
      async () => {
        await this.remote.addToSet(key, member);
        void this.local.addToSet(key, member);
      },
      () => this.local.addToSet(key, member),
    );
  }

  async removeFromSet(key: Key<string[]>, member: string): Promise<void> {
    return this.attempt(
      async () => {
        await this.remote.removeFromSet(key, member);
        void this.local.removeFromSet(key, member);
      },
      () => this.local.removeFromSet(key, member),
    );
  }

  async setMembers(key: Key<string[]>): Promise<string[]> {
    return this.attempt(
      async () => {
        const members = await this.remote.setMembers(key);
        void this.local.set(key, members);
        return members;
      },
      () => this.local.setMembers(key),
    );
  }

  async admit(admission: Admission): Promise<AdmissionResult> {
    return this.attempt(
      async () => {
        const result = await this.remote.admit(admission);
        if (result.admitted) this.mirrorQuotas(admission, result);
        return result;
      },
      async (maybeApplied) => {
        // Units taken ahead (admission leases) only come from the shared state.
        const result = await this.local.admit(withoutExtras(admission));
        result.local = true;
        if (result.admitted) {
          this.localAdmissions.set(admission.id, !maybeApplied);
          for (const bucket of admission.buckets) {
            if (bucket.kind === 'quota' && !maybeApplied) {
              this.addPendingQuota(bucket.key, bucket.amount, bucket.expiresAtMs);
            }
          }
        }
        return result;
      },
    );
  }

  async settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void> {
    // `ownWindows`: the admission was taken here, so its window amounts are here too (an
    // admission Redis took has nothing in the local windows to correct).
    const settleLocally = async (replay: boolean, ownWindows: boolean) => {
      for (const adjustment of adjustments) {
        if (adjustment.kind === 'quota' && replay) {
          this.addPendingQuota(adjustment.key, adjustment.delta, adjustment.expiresAtMs);
        }
      }
      await this.local.settle(
        admission,
        ownWindows ? adjustments : adjustments.filter((adjustment) => adjustment.kind !== 'window'),
      );
    };
    // An admission taken locally is settled locally, even after Redis came back.
    const replayLocal = this.localAdmissions.get(admission.id);
    if (replayLocal !== undefined) {
      this.localAdmissions.delete(admission.id);
      return settleLocally(replayLocal, true);
    }
    return this.attempt(
      async () => {
        await this.remote.settle(admission, adjustments);
        const quotas = adjustments.filter((adjustment) => adjustment.kind === 'quota');
        if (quotas.length > 0) void this.local.settle(admission, quotas);
      },
      (maybeApplied) => {
        for (const adjustment of adjustments) {
          if (adjustment.kind === 'concurrency') this.addPendingRelease(adjustment.key, admission.id);
        }
        return settleLocally(!maybeApplied, false);
      },
    );
  }

  async windowTotal(key: string, windowMs: number): Promise<number> {
    return this.attempt(
      () => this.remote.windowTotal(key, windowMs),
      () => this.local.windowTotal(key, windowMs),
    );
  }

  async publish(channel: string, message: string): Promise<void> {
    return this.attempt(
      () => this.remote.publish(channel, message),
      () => this.local.publish(channel, message),
    );
  }

  /** Heard from Redis while healthy, from this instance's own publishes while degraded. */
  subscribe(channel: string, listener: (message: string) => void): () => void {
    const stopRemote = this.remote.subscribe(channel, listener);
    const stopLocal = this.local.subscribe(channel, listener);
    return () => {
      stopRemote();
      stopLocal();
    };
  }

  async time(): Promise<number> {
    return this.attempt(
      () => this.remote.time(),
      () => this.local.time(),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.checkTimer);
    this.listeners.clear();
    await Promise.all([this.remote.close(), this.local.close()]);
  }

  /**
   * Redis, or the local store when degraded or when Redis fails. `local` learns whether Redis
   * may have carried the call out anyway (it timed out in flight): such spend is not replayed.
   */
  private async attempt<R>(
    remote: () => Promise<R>,
    local: (maybeApplied: boolean) => Promise<R>,
  ): Promise<R> {
    if (this.degradedSince !== undefined) return local(false);
    try {
      return await remote();
    } catch (error) {
      this.enterDegraded(error);
      return local(!neverReachedRedis(error));
    }
  }

  /** The spend Redis reported for each quota bucket, so local budgets carry on from it. */
  private mirrorQuotas(admission: Admission, result: AdmissionResult): void {
    admission.buckets.forEach((bucket, index) => {
      if (bucket.kind !== 'quota') return;
      const remaining = result.buckets[index]?.remaining;
      if (remaining === undefined) return;
      const ttlMs = Math.max(1, bucket.expiresAtMs - result.now);
      void this.local.set(keyOf<number>(bucket.key), bucket.limit - remaining, { ttlMs });
    });
  }

  private addPendingRelease(key: string, id: string): void {
    // Bounded: a slot not released expires in Redis with its lease anyway.
    if (this.pendingReleases.size < maxPendingReleases) this.pendingReleases.set(`${key} ${id}`, { key, id });
  }

  private addPendingQuota(name: string, amount: number, expiresAtMs: number): void {
    const pending = this.pendingQuotas.get(name);
    this.pendingQuotas.set(name, { amount: (pending?.amount ?? 0) + amount, expiresAtMs });
  }

  private enterDegraded(error: unknown): void {
    if (this.degradedSince !== undefined || this.closed) return;
    const since = this.now();
    this.degradedSince = since;
    const reason = error instanceof Error ? error.message : String(error);
    this.options.logger.warn(
      { error: reason },
      'shared state unreachable (Redis): serving from local state, limits now hold per instance',
    );
    this.notify({ degraded: true, sinceMs: since, reason });
    this.checkTimer = setInterval(() => void this.checkRemote(), this.checkIntervalMs);
    this.checkTimer.unref();
  }

  private async checkRemote(): Promise<void> {
    if (this.checking || this.closed || this.degradedSince === undefined) return;
    this.checking = true;
    try {
      await this.remote.ping();
      // The subscriber reconnects on its own schedule: shared again only once it hears the fleet.
      if (this.remote.waitUntilReady && !(await this.remote.waitUntilReady(this.checkIntervalMs))) return;
      await this.replaySpend();
      // Nothing awaits between the last replay and the switch, so no local spend is left behind.
      const since = this.degradedSince;
      clearInterval(this.checkTimer);
      this.checkTimer = undefined;
      this.degradedSince = undefined;
      this.options.logger.info?.(
        { degradedForMs: this.now() - since },
        'shared state reachable again (Redis): back on shared state',
      );
      this.notify({ degraded: false, sinceMs: since });
    } catch {
      // Still unreachable: the next check tries again.
    } finally {
      this.checking = false;
    }
  }

  /**
   * Add the spend recorded while degraded to Redis, each item once (removed when it landed), and
   * release the slots whose release failed.
   */
  private async replaySpend(): Promise<void> {
    while (this.pendingIncrements.size > 0 || this.pendingQuotas.size > 0 || this.pendingReleases.size > 0) {
      for (const [name, by] of [...this.pendingIncrements]) {
        await this.remote.increment(keyOf<number>(name), by);
        // Spend added locally during the await stays pending for the next round.
        const left = (this.pendingIncrements.get(name) ?? 0) - by;
        if (left === 0) this.pendingIncrements.delete(name);
        else this.pendingIncrements.set(name, left);
      }
      const now = await this.remote.time();
      for (const [name, quota] of [...this.pendingQuotas]) {
        this.pendingQuotas.delete(name);
        if (quota.expiresAtMs <= now) continue;
        try {
          await this.remote.settle({ id: '', at: now }, [
            { kind: 'quota', key: name, delta: quota.amount, expiresAtMs: quota.expiresAtMs },
          ]);
        } catch (error) {
          this.addPendingQuota(name, quota.amount, quota.expiresAtMs);
          throw error;
        }
      }
      // Releasing a slot twice is harmless (the second finds nothing): sent together, batched by the store.
      const releases: Array<[string, { key: string; id: string }]> = [];
      for (const entry of this.pendingReleases) if (releases.push(entry) === 100) break;
      await Promise.all(
        releases.map(([name, { key, id }]) =>
          this.remote.settle({ id, at: now }, [{ kind: 'concurrency', key }]).then(() => {
            this.pendingReleases.delete(name);
          }),
        ),
      );
    }
  }

  private notify(change: StateChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.options.logger.warn({ error: String(error) }, 'state change listener failed');
      }
    }
  }
}
