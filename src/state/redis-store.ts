/**
 * The shared store for a fleet: every instance pointing at the same Redis and prefix sees the
 * same values, limits, leases and messages. Multi-step operations are Lua scripts (see
 * `redis-scripts.ts`), so replicas never race between a read and a write; admission runs on
 * Redis's clock (`TIME`), never the caller's.
 *
 * Failure behaviour: every command carries a short timeout (`commandTimeoutMs`); a command
 * issued while the connection is down fails at once instead of waiting in a queue, and a command
 * cut off by a dropped connection is not sent again after reconnecting (the caller has already
 * seen it fail). A command that timed out on a live connection may still be carried out by Redis
 * later. Errors reach the caller: wrap the store in `FailoverStore` to serve from local state.
 *
 * Standalone Redis only, not Cluster: the scripts touch keys of several buckets at once, which
 * Cluster would refuse across slots. Window and concurrency bucket keys are Redis sorted sets:
 * they must not coincide with a value key (`keys.ts` keeps them apart by their first word).
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379/0', prefix: 'switchyard:' });
 * await store.waitUntilReady();
 * await store.set(stateKeys.coolDown('gpt-4o'), until, { ttlMs: 30_000 });
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import {
  acquireLeaseScript,
  admitScript,
  compareAndSetScript,
  getManyScript,
  getManyWithExpiryScript,
  incrementScript,
  releaseLeaseScript,
  setScript,
  settleScript,
  windowTotalScript,
} from './redis-scripts.ts';
import type {
  Adjustment,
  Admission,
  AdmissionResult,
  Admitted,
  BucketState,
  Key,
  SetOptions,
  Store,
  Versioned,
} from './store.ts';

export interface ExpiringValue<T> {
  value: T;
  /** Remaining time to live; undefined when the value never expires. */
  ttlMs: number | undefined;
}

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db` (or `rediss://` for TLS). */
  url: string;
  /** Prepended to every key and channel, so several fleets can share one Redis. */
  prefix?: string;
  /** A command not answered within this many ms fails (default 250). */
  commandTimeoutMs?: number;
  /** Give up on a connection attempt after this many ms (default 2000). */
  connectTimeoutMs?: number;
  /** Reconnect delays: `baseMs * 2^(attempt-1)`, capped at `maxMs`, plus up to 10% jitter. */
  reconnect?: { baseMs?: number; maxMs?: number };
  /** Connection errors (each failed reconnect attempt reports one). Silent by default. */
  onError?: (error: Error) => void;
  /** Shown in `CLIENT LIST`. */
  connectionName?: string;
}

/** One Lua script: EVALSHA by its digest, falling back to EVAL when Redis lost its cache. */
class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** A settle waiting for its turn's batch. */
interface PendingSettle {
  keys: string[];
  args: string[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Settles per script call, at most (a turn under heavy load can queue hundreds). */
const settleBatch = 100;

const scripts = {
  admit: new LuaScript(admitScript),
  settle: new LuaScript(settleScript),
  windowTotal: new LuaScript(windowTotalScript),
  getMany: new LuaScript(getManyScript),
  getManyWithExpiry: new LuaScript(getManyWithExpiryScript),
  set: new LuaScript(setScript),
  increment: new LuaScript(incrementScript),
  compareAndSet: new LuaScript(compareAndSetScript),
  acquireLease: new LuaScript(acquireLeaseScript),
  releaseLease: new LuaScript(releaseLeaseScript),
};

/** Capped exponential backoff with a little jitter, so a fleet does not reconnect in lockstep. */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay * (1 + Math.random() * 0.1));
}

function parseNumber(text: unknown): number {
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function ttlArgument(ttlMs: number | undefined): string {
  return ttlMs === undefined ? '' : String(Math.max(0, Math.ceil(ttlMs)));
}

/**
 * Whether a failed call certainly never reached Redis (sent while disconnected). Any other
 * failure, a timeout above all, may still have been carried out.
 */
export function neverReachedRedis(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Stream isn't writeable");
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly prefix: string;
  /** Commands. */
  private readonly commands: Redis;
  /** Subscriptions (a subscribed connection can issue nothing else). */
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** SUBSCRIBE commands not yet confirmed: `publish` waits for them, so this instance hears itself. */
  private readonly pendingSubscriptions = new Set<Promise<unknown>>();
  private readonly commandTimeoutMs: number;
  private closed = false;
  private pendingSettles: PendingSettle[] = [];
  private settleFlush: NodeJS.Immediate | undefined;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? 'switchyard:';
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    const baseMs = options.reconnect?.baseMs ?? 50;
    const maxMs = options.reconnect?.maxMs ?? 2000;
    const shared: RedisOptions = {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      retryStrategy: (attempt) => reconnectDelay(attempt, baseMs, maxMs),
      // A command cut off by a lost connection is not replayed later.
      autoResendUnfulfilledCommands: false,
    };
    const Redis = redisClass();
    this.commands = new Redis(options.url, {
      ...shared,
      commandTimeout: this.commandTimeoutMs,
      // No auto-pipelining: it saves a write per command only when many leave in one turn, and
      // its per-batch pipeline and next-tick flush cost more than that at a gateway's rates
      // (plain at 50 connections, 3 interleaved pairs: 4,170-4,662 -> 4,936-5,367 req/s; +0.14
      // instead of +0.26 ms unloaded; bench/README.md, round 6). Settles batch themselves.
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      connectionName: options.connectionName,
    });
    // SUBSCRIBE is idempotent: it may wait for the connection and is replayed after reconnects.
    this.subscriber = new Redis(options.url, {
      ...shared,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
      connectionName: options.connectionName && `${options.connectionName}:subscriber`,
    });
    const onError = options.onError ?? (() => {});
    this.commands.on('error', onError);
    this.subscriber.on('error', onError);
    this.commands.on('ready', () => this.loadScripts());
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // One listener's bug must neither stop the others nor kill the subscriber connection.
          onError(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
  }

  /** Resolves true once both connections are ready, false if that takes longer than `timeoutMs`. */
  async waitUntilReady(timeoutMs = 2000): Promise<boolean> {
    const cleanups: Array<() => void> = [];
    const ready = (client: Redis) =>
      client.status === 'ready'
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            client.once('ready', resolve);
            cleanups.push(() => client.off('ready', resolve));
          });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const both = Promise.all([ready(this.commands), ready(this.subscriber)]).then(() => true);
    try {
      return await Promise.race([both, timeout]);
    } finally {
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
    }
  }

  /** Whether the command connection is up (a cheap check, no round trip). */
  get connected(): boolean {
    return this.commands.status === 'ready';
  }

  /** One round trip; rejects when Redis does not answer in time. */
  async ping(): Promise<void> {
    await this.commands.ping();
  }

  async get<T>(key: Key<T>): Promise<T | undefined> {
    const name = this.prefix + key.name;
    try {
      return decode<T>(await this.commands.hget(name, 'v'));
    } catch (error) {
      // A key written by addToSet is a Redis set; MemoryStore reads it as an array.
      if (!isWrongType(error)) throw error;
      return (await this.commands.smembers(name)) as T;
    }
  }

  async getMany<T>(keys: readonly Key<T>[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return [];
    const names = keys.map((key) => this.prefix + key.name);
    const values = (await scripts.getMany.run(this.commands, names, [])) as Array<string | null>;
    return names.map((_, index) => decode<T>(values[index] ?? null));
  }

  /** Values with their remaining TTL (undefined: none), in one round trip: for a local mirror. */
  async getManyWithExpiry<T>(keys: readonly Key<T>[]): Promise<Array<ExpiringValue<T> | undefined>> {
    if (keys.length === 0) return [];
    const names = keys.map((key) => this.prefix + key.name);
    const reply = (await scripts.getManyWithExpiry.run(this.commands, names, [])) as Array<
      string | number | null
    >;
    return names.map((_, index) => {
      const text = reply[2 * index];
      if (typeof text !== 'string') return undefined;
      const ttlMs = Number(reply[2 * index + 1]);
      return { value: JSON.parse(text) as T, ttlMs: ttlMs >= 0 ? ttlMs : undefined };
    });
  }

  async set<T>(key: Key<T>, value: T, options: SetOptions = {}): Promise<boolean> {
    const written = await scripts.set.run(
      this.commands,
      [this.prefix + key.name],
      [JSON.stringify(value), ttlArgument(options.ttlMs), options.onlyIfAbsent ? '1' : '0'],
    );
    return written === 1;
  }

  async delete(key: Key<unknown>): Promise<void> {
    await this.commands.del(this.prefix + key.name);
  }

  async increment(key: Key<number>, by: number, ttlMs?: number): Promise<number> {
    const value = await scripts.increment.run(
      this.commands,
      [this.prefix + key.name],
      [String(by), ttlArgument(ttlMs)],
    );
    return Number(value);
  }

  async getVersioned<T>(key: Key<T>): Promise<Versioned<T> | undefined> {
    const [value, version] = await this.commands.hmget(this.prefix + key.name, 'v', 'n');
    if (value === null || value === undefined) return undefined;
    return { value: JSON.parse(value) as T, version: Number(version ?? 0) };
  }

  async compareAndSet<T>(
    key: Key<T>,
    expectedVersion: number,
    value: T,
    ttlMs?: number,
  ): Promise<number | undefined> {
    const version = await scripts.compareAndSet.run(
      this.commands,
      [this.prefix + key.name],
      [String(expectedVersion), JSON.stringify(value), ttlArgument(ttlMs)],
    );
    return version === null ? undefined : Number(version);
  }

  async acquireLease(key: Key<string>, owner: string, ttlMs: number): Promise<boolean> {
    const taken = await scripts.acquireLease.run(
      this.commands,
      [this.prefix + key.name],
      [JSON.stringify(owner), ttlArgument(ttlMs)],
    );
    return taken === 1;
  }

  async releaseLease(key: Key<string>, owner: string): Promise<void> {
    await scripts.releaseLease.run(this.commands, [this.prefix + key.name], [JSON.stringify(owner)]);
  }

  async addToSet(key: Key<string[]>, member: string): Promise<void> {
    await this.commands.sadd(this.prefix + key.name, member);
  }

  async removeFromSet(key: Key<string[]>, member: string): Promise<void> {
    await this.commands.srem(this.prefix + key.name, member);
  }

  async setMembers(key: Key<string[]>): Promise<string[]> {
    return this.commands.smembers(this.prefix + key.name);
  }

  async admit(admission: Admission): Promise<AdmissionResult> {
    const keys: string[] = [];
    const args: string[] = [admission.id, String(admission.buckets.length)];
    for (const bucket of admission.buckets) {
      if (bucket.kind === 'window') {
        keys.push(this.windowKey(bucket.key));
        args.push('window', String(bucket.limit), String(bucket.windowMs), String(bucket.amount));
      } else if (bucket.kind === 'concurrency') {
        keys.push(this.prefix + bucket.key);
        args.push('concurrency', String(bucket.limit), String(bucket.leaseMs), '1');
      } else {
        keys.push(this.prefix + bucket.key);
        args.push('quota', String(bucket.limit), String(bucket.expiresAtMs), String(bucket.amount));
      }
      args.push(bucket.extra ? String(bucket.extra) : '0');
    }
    const reply = (await scripts.admit.run(this.commands, keys, args)) as string[];
    const buckets: BucketState[] = [];
    for (let index = 4; index < reply.length; index += 3) {
      const state: BucketState = {
        remaining: parseNumber(reply[index]),
        resetMs: parseNumber(reply[index + 1]),
      };
      const granted = parseNumber(reply[index + 2]);
      if (granted > 0) state.granted = granted;
      buckets.push(state);
    }
    const now = parseNumber(reply[3]);
    if (reply[0] === '1') return { admitted: true, buckets, now };
    return {
      admitted: false,
      refusedIndex: Number(reply[1]),
      retryAfterMs: parseNumber(reply[2]),
      buckets,
      now,
    };
  }

  /**
   * Settles are batched: those of one event-loop turn go to Redis in one script (at most
   * `settleBatch` each), instead of one script each. A settle is bookkeeping after the answer; one
   * turn later changes nothing a caller can see, and each still resolves or fails on its own.
   */
  settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void> {
    if (adjustments.length === 0) return Promise.resolve();
    const keys: string[] = [];
    const args: string[] = [admission.id, String(admission.at), String(adjustments.length)];
    for (const adjustment of adjustments) {
      if (adjustment.kind === 'window') {
        keys.push(this.windowKey(adjustment.key));
        args.push('window', '', String(adjustment.windowMs), String(adjustment.delta));
      } else if (adjustment.kind === 'quota') {
        keys.push(this.prefix + adjustment.key);
        args.push('quota', '', String(adjustment.expiresAtMs), String(adjustment.delta));
      } else {
        keys.push(this.prefix + adjustment.key);
        args.push('concurrency', '', '', '');
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.pendingSettles.push({ keys, args, resolve, reject });
      this.settleFlush ??= setImmediate(() => this.flushSettles());
    });
  }

  private flushSettles(): void {
    this.settleFlush = undefined;
    const pending = this.pendingSettles;
    this.pendingSettles = [];
    for (let start = 0; start < pending.length; start += settleBatch) {
      const batch = pending.slice(start, start + settleBatch);
      const keys: string[] = [];
      const args: string[] = [String(batch.length)];
      for (const settle of batch) {
        for (const key of settle.keys) keys.push(key);
        for (const arg of settle.args) args.push(arg);
      }
      scripts.settle.run(this.commands, keys, args).then(
        () => {
          for (const settle of batch) settle.resolve();
        },
        (error: unknown) => {
          for (const settle of batch) settle.reject(error);
        },
      );
    }
  }

  async windowTotal(key: string, windowMs: number): Promise<number> {
    return Number(await scripts.windowTotal.run(this.commands, [this.windowKey(key)], [String(windowMs)]));
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.pendingSubscriptions.size > 0) await this.subscriptionsConfirmed();
    await this.commands.publish(this.prefix + channel, message);
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    const name = this.prefix + channel;
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
      this.track(this.subscriber.subscribe(name));
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(name);
      if (!current?.delete(listener) || current.size > 0) return;
      this.listeners.delete(name);
      if (!this.closed) this.track(this.subscriber.unsubscribe(name));
    };
  }

  async time(): Promise<number> {
    const [seconds, microseconds] = await this.commands.time();
    return Number(seconds) * 1000 + Math.floor(Number(microseconds) / 1000);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.settleFlush) {
      // Settles queued this turn still go out before the connection quits.
      clearImmediate(this.settleFlush);
      this.flushSettles();
    }
    this.listeners.clear();
    await Promise.all([quit(this.commands), quit(this.subscriber)]);
  }

  /**
   * A window's hash of slots. Its own name (`:slots`): the sorted-set layout of versions before
   * slotted windows used the bare key, and a rolling upgrade must not meet the other type there.
   */
  private windowKey(bucketKey: string): string {
    return `${this.prefix}${bucketKey}:slots`;
  }

  /** Load every script once per connection, so the first calls need no NOSCRIPT round trip. */
  private loadScripts(): void {
    for (const script of Object.values(scripts)) {
      this.commands.script('LOAD', script.source).catch(() => {
        // EVALSHA falls back to EVAL when a script is missing: nothing is lost.
      });
    }
  }

  private track(command: Promise<unknown>): void {
    const settled = command.catch(() => {
      // A failed SUBSCRIBE is replayed by the subscriber's reconnect (autoResubscribe).
    });
    this.pendingSubscriptions.add(settled);
    settled.finally(() => this.pendingSubscriptions.delete(settled));
  }

  /** Wait (at most one command timeout) for this instance's own subscriptions to be live. */
  private async subscriptionsConfirmed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.pendingSubscriptions),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.commandTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

function decode<T>(text: string | null): T | undefined {
  return text === null ? undefined : (JSON.parse(text) as T);
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Not answered in time: drop the connection instead.
    }
  }
  client.disconnect();
}

/** ioredis, loaded with the first Redis store (about 10 MB resident: a gateway without Redis never pays it). */
function redisClass(): typeof Redis {
  return (createRequire(import.meta.url)('ioredis') as { Redis: typeof Redis }).Redis;
}
