/**
 * Virtual keys: create, list, read, change and revoke keys; tell the HTTP server who a presented
 * key is (its `AccessGrant`: models, limits, budget); count each key's spend and requests.
 * One instance keeps records in SQLite and mirrors them into its store; a fleet (`state.redis`)
 * keeps them in the store, where every instance sees them. See `directory.ts` for how a change
 * reaches every instance, `grant.ts` for the limits, `usage.ts` for the counters.
 *
 * @example
 * const keys = await KeyService.open({ store: gateway.store, stateStatus: () => gateway.stateStatus(), folder: '.switchyard', leaseMs: 90_000, logger });
 * const { key } = await keys.create(parseInput(createKeySchema, { name: 'ci', rpm: 60 }));
 * createGatewayServer(gateway, { authenticator: keys.authenticator, routes: keysRoutes(keys, …) });
 */

import { join } from 'node:path';
import { GatewayError, invalidRequest } from '../errors.ts';
import type { AccessGrant } from '../gateway/types.ts';
import type { DashboardKey } from '../observability/dashboard-data.ts';
import { stateKeys } from '../state/keys.ts';
import type { Key, Store } from '../state/store.ts';
import { KeyDatabase, keyDatabaseName } from './database.ts';
import { KeyDirectory } from './directory.ts';
import { grantFor } from './grant.ts';
import { newKey, parseKey } from './key-format.ts';
import { currentPeriod } from './periods.ts';
import {
  applyUpdate,
  type CreateKeyInput,
  instantMs,
  type KeyRecord,
  type KeyUsage,
  type KeyView,
  publicView,
  statusOf,
  type UpdateKeyInput,
} from './record.ts';
import { KeyHasher, resolveKeySecret, type SecretSource } from './secret.ts';
import { type FinishedRequest, KeyUsageRecorder } from './usage.ts';

export interface KeyLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

export interface KeyServiceOptions {
  store: Store;
  /** Whether state is shared by a fleet, and whether the shared store is unreachable now. */
  stateStatus: () => { shared: boolean; degraded: boolean };
  /** `server.key_secret`. */
  keySecret?: string;
  /** Folder of the local databases (`keys.db`, `key-secret`); undefined keeps them in memory. */
  folder: string | undefined;
  /**
   * Names a key's `models` may list (configured models and `auto` aliases); absent: not checked.
   * A function is asked each time (a config reload may add models).
   */
  modelNames?: readonly string[] | (() => readonly string[]);
  /** How long a concurrency slot is leased, ms (the request deadline plus a margin). */
  leaseMs: number;
  logger: KeyLogger;
  /** How long a cached record is trusted without a change message, ms. Default 1000. */
  cacheTtlMs?: number;
  now?: () => number;
}

/** What the HTTP server asks (`Authenticator` in src/server/routes.ts). */
export interface KeyAuthenticator {
  required(): boolean;
  identify(key: string): Promise<{ keyId: string; access?: AccessGrant } | undefined>;
  idOf(key: string): string;
}

/** One key as the dashboard's keys panel shows it (the panel's own type). */
export type KeyOverview = DashboardKey;

/** The dashboard lists this many keys at most (the most recently used first). */
const overviewLimit = 200;
/** Verified keys remembered at most (then the memory starts over). */
const maxVerified = 10_000;
const autoAliases = new Set(['auto', 'auto:cost', 'auto:speed', 'auto:quality', 'auto:balanced']);

export class KeyService {
  readonly authenticator: KeyAuthenticator;
  /** The gateway event sink counting spend and requests per key. */
  readonly usageSink: { requestFinished(summary: FinishedRequest): void };
  private readonly directory: KeyDirectory;
  private readonly usage: KeyUsageRecorder;
  private readonly grants = new Map<string, { record: KeyRecord; grant: AccessGrant }>();
  /**
   * Keys this process has verified, each with the hash it matched: a key presented again is
   * accepted while its record keeps that hash (a record with another hash misses and is hashed
   * again, a new hashing secret clears it all; revocation and expiry are checked on the record
   * every time). Saves an HMAC per request.
   */
  private readonly verified = new Map<string, string>();
  private readonly now: () => number;
  private overview: KeyOverview[] = [];
  private overviewAt = 0;
  private overviewLoading: Promise<KeyOverview[]> | undefined;
  private storeErrorLogged = false;
  private confirmTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: KeyServiceOptions,
    private readonly database: KeyDatabase | undefined,
    private hasher: KeyHasher,
    /** Where the secret came from; 'store' read while the store was degraded is only this instance's. */
    private secretSource: SecretSource,
    private secretConfirmed: boolean,
  ) {
    this.now = options.now ?? Date.now;
    const onError = (error: unknown) => this.storeError(error);
    this.directory = new KeyDirectory({
      store: options.store,
      database,
      ttlMs: options.cacheTtlMs,
      now: this.now,
      onError,
    });
    this.directory.onChange = (id) => this.grants.delete(id);
    this.usage = new KeyUsageRecorder({ store: options.store, database, now: this.now, onError });
    this.usageSink = { requestFinished: (summary) => this.usage.requestFinished(summary) };
    this.authenticator = {
      // Fail closed: a fleet instance that could not read the shared keys does not know whether any exist.
      required: () => this.directory.anyKey || !this.secretConfirmed,
      identify: (key) => this.identify(key),
      idOf: (key) => this.hasher.idOf(key),
    };
  }

  /** Open the key database (one instance), resolve the hashing secret, load and mirror the records. */
  static async open(options: KeyServiceOptions): Promise<KeyService> {
    const { shared, degraded } = options.stateStatus();
    const database = shared
      ? undefined
      : new KeyDatabase(options.folder ? join(options.folder, keyDatabaseName) : ':memory:');
    try {
      const { secret, source } = await resolveKeySecret({
        configured: options.keySecret,
        shared,
        store: options.store,
        folder: options.folder,
      });
      const confirmed = !(source === 'store' && degraded);
      if (!confirmed) {
        options.logger.warn(
          {},
          'virtual keys: the shared store is unreachable, so the fleet key secret is unknown; keys are refused until it returns (set server.key_secret to avoid this)',
        );
      }
      const service = new KeyService(options, database, new KeyHasher(secret), source, confirmed);
      if (!confirmed) service.retryConfirming();
      await service.directory.start();
      if (database) await service.usage.seed(await service.directory.list(), true);
      return service;
    } catch (error) {
      database?.close();
      throw error;
    }
  }

  /** Where the hashing secret came from: `config`, `store` (a fleet), `file` or `memory`. */
  get secretOrigin(): SecretSource {
    return this.secretSource;
  }

  async create(input: CreateKeyInput): Promise<{ record: KeyRecord; key: string }> {
    this.checkModels(input.models);
    const now = this.now();
    if (input.expires_at != null && instantMs(input.expires_at) <= now)
      throw invalidRequest('expires_at must be in the future.', 'expires_at');
    await this.confirmSecret();
    for (let attempt = 0; attempt < 5; attempt++) {
      const { id, key } = newKey();
      const base: KeyRecord = {
        id,
        name: input.name,
        key_hash: this.hasher.hash(key),
        created_at: now,
        updated_at: now,
      };
      const record = applyUpdate(base, input, now);
      if (await this.directory.create(record)) {
        await this.usage.seed([record], false);
        return { record, key };
      }
    }
    throw new Error('could not draw an unused key id');
  }

  async list(): Promise<KeyView[]> {
    const records = await this.directory.list();
    await this.usage.flush();
    const usage = await this.usage.usageOf(records);
    return records.map((record) => this.view(record, usage.get(record.id)));
  }

  async get(id: string): Promise<KeyView | undefined> {
    const record = await this.options.store.get(this.recordKey(id));
    if (!record) return undefined;
    await this.usage.flush();
    return this.view(record, (await this.usage.usageOf([record])).get(id));
  }

  /** Change a key's name, limits, budget, models, expiry or metadata (`null` clears a field). */
  async update(id: string, patch: UpdateKeyInput): Promise<KeyView | undefined> {
    if (patch.models !== undefined && patch.models !== null) this.checkModels(patch.models);
    let revoked = false;
    const record = await this.directory.update(
      id,
      (current) => {
        if (current.revoked_at === undefined) return applyUpdate(current, patch, this.now());
        revoked = true;
        return undefined;
      },
      'updated',
    );
    if (revoked) throw invalidRequest(`The key ${id} is revoked; a revoked key cannot be changed.`, 'id');
    if (!record) return undefined;
    this.grants.delete(id);
    if (patch.budget) await this.usage.seed([record], false);
    return this.get(id);
  }

  /** Revoke a key: refused on every instance from the next request on (repeating it changes nothing). */
  async revoke(id: string): Promise<KeyView | undefined> {
    const record = await this.directory.update(
      id,
      (current) =>
        current.revoked_at === undefined
          ? { ...current, revoked_at: this.now(), updated_at: this.now() }
          : undefined,
      'revoked',
    );
    if (!record) return undefined;
    this.grants.delete(id);
    return this.get(id);
  }

  /** The keys panel's rows, from the latest refresh (refreshed in the background at most once a second). */
  overviewNow(): KeyOverview[] {
    if (this.now() - this.overviewAt >= 1000) this.refreshOverview().catch((error) => this.storeError(error));
    return this.overview;
  }

  /** The keys panel's rows, read now. */
  refreshOverview(): Promise<KeyOverview[]> {
    this.overviewLoading ??= this.loadOverview().finally(() => {
      this.overviewLoading = undefined;
    });
    return this.overviewLoading;
  }

  /** Write the usage tallies, stop listening, close the database. */
  async close(): Promise<void> {
    clearInterval(this.confirmTimer);
    this.directory.close();
    try {
      await this.usage.close();
    } catch (error) {
      this.storeError(error);
    }
    this.database?.close();
  }

  private async identify(key: string): Promise<{ keyId: string; access: AccessGrant } | undefined> {
    const parsed = parseKey(key);
    if (!parsed) return undefined;
    if (
      !this.secretConfirmed &&
      !(await this.confirmSecret().then(
        () => true,
        () => false,
      ))
    )
      return undefined;
    const record = await this.directory.lookup(parsed.id);
    if (!record) return undefined;
    if (this.verified.get(key) !== record.key_hash) {
      if (!this.hasher.matches(key, record.key_hash)) return undefined;
      if (this.verified.size >= maxVerified) this.verified.clear();
      this.verified.set(key, record.key_hash);
    }
    if (statusOf(record, this.now()) !== 'active') return undefined;
    return { keyId: record.id, access: this.grantOf(record) };
  }

  /** The grant for a record, built once per version of the record. */
  private grantOf(record: KeyRecord): AccessGrant {
    const cached = this.grants.get(record.id);
    if (cached && cached.record.updated_at === record.updated_at) return cached.grant;
    const grant = grantFor(record, { leaseMs: this.options.leaseMs, now: this.now });
    this.grants.set(record.id, { record, grant });
    return grant;
  }

  /** Until the fleet secret is known, look for it every second (the store says when it is back). */
  private retryConfirming(): void {
    this.confirmTimer = setInterval(() => {
      this.confirmSecret().then(
        () => clearInterval(this.confirmTimer),
        () => {},
      );
    }, 1000);
    this.confirmTimer.unref();
  }

  /** A fleet secret read while the store was unreachable is re-read once it is back. */
  private async confirmSecret(): Promise<void> {
    if (this.secretConfirmed) return;
    const { shared, degraded } = this.options.stateStatus();
    if (degraded)
      throw new GatewayError(
        'no_model_available',
        'Shared state is unreachable: keys cannot be checked or made now.',
      );
    const { secret, source } = await resolveKeySecret({
      shared,
      store: this.options.store,
      folder: undefined,
    });
    this.hasher = new KeyHasher(secret);
    this.verified.clear();
    this.secretSource = source;
    await this.directory.refreshCount(); // before `required()` stops failing closed
    this.secretConfirmed = true;
    this.grants.clear();
    this.options.logger.info({}, 'virtual keys: the fleet key secret is known again; keys are accepted');
  }

  private checkModels(models: readonly string[] | null | undefined): void {
    const { modelNames } = this.options;
    const known = typeof modelNames === 'function' ? modelNames() : modelNames;
    if (!models || !known) return;
    const names = new Set(known);
    models.forEach((name, index) => {
      if (!names.has(name))
        throw invalidRequest(`The model "${name.slice(0, 256)}" is not configured.`, `models[${index}]`);
    });
    if (models.every((name) => autoAliases.has(name)))
      throw invalidRequest(
        'models must name at least one configured model (auto chooses among them).',
        'models',
      );
  }

  private view(record: KeyRecord, usage: KeyUsage | undefined): KeyView {
    const now = this.now();
    const resetsAt = record.budget ? currentPeriod(record.budget.period, now).endMs : undefined;
    return publicView(record, now, usage, resetsAt);
  }

  private async loadOverview(): Promise<KeyOverview[]> {
    const records = await this.directory.list();
    const usage = await this.usage.usageOf(records);
    const now = this.now();
    const rows = records.map((record): KeyOverview => {
      const used = usage.get(record.id);
      return {
        id: record.id,
        name: record.name,
        status: statusOf(record, now),
        models: record.models ?? null,
        rpm: record.rpm ?? null,
        tpm: record.tpm ?? null,
        max_concurrency: record.max_concurrency ?? null,
        budget_usd: record.budget?.usd ?? null,
        budget_period: record.budget?.period ?? null,
        period_spend_usd: used?.periodSpendUsd ?? null,
        spend_usd: used?.spendUsd ?? 0,
        requests: used?.requests ?? 0,
        last_used_at: used?.lastUsedAt ?? null,
      };
    });
    const rank = (row: KeyOverview) => (row.status === 'active' ? 0 : 1);
    rows.sort((a, b) => rank(a) - rank(b) || (b.last_used_at ?? 0) - (a.last_used_at ?? 0));
    this.overview = rows.slice(0, overviewLimit);
    this.overviewAt = this.now();
    return rows;
  }

  private recordKey(id: string): Key<KeyRecord> {
    return stateKeys.keyRecord(id) as Key<KeyRecord>;
  }

  private storeError(error: unknown): void {
    if (this.storeErrorLogged) return;
    this.storeErrorLogged = true;
    this.options.logger.warn({ err: error }, 'virtual keys: a shared-state call failed');
  }
}
