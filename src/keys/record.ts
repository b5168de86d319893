/**
 * A virtual key's record (what is stored: the key's hash, never the key), the admin API's input
 * schemas (zod; a failure names the parameter, as OpenAI's 400s do) and the public view of a
 * record (no hash). Times are epoch ms in the record and unix seconds in the API, as OpenAI's
 * admin API writes them.
 */
import { z } from 'zod';
import type { GatewayError } from '../errors.ts';
import { invalidRequest } from '../errors.ts';
import { type BudgetPeriod, budgetPeriods } from './periods.ts';

export interface KeyMetadata {
  team?: string;
  user?: string;
  tags?: string[];
  [field: string]: string | string[] | undefined;
}

export interface KeyBudget {
  usd: number;
  period: BudgetPeriod;
}

export interface KeyRecord {
  /** The public id (also inside the key). */
  id: string;
  name: string;
  /** HMAC-SHA-256 of the whole key with the server secret, hex. */
  key_hash: string;
  /** Models the key may use; absent: every model. */
  models?: string[];
  rpm?: number;
  tpm?: number;
  max_concurrency?: number;
  budget?: KeyBudget;
  /** Epoch ms. */
  expires_at?: number;
  metadata?: KeyMetadata;
  created_at: number;
  updated_at: number;
  revoked_at?: number;
}

/** What a key has used (the store's counters), for the views. */
export interface KeyUsage {
  requests: number;
  spendUsd: number;
  /** The budget bucket of the current period: settled spend plus what requests in flight reserved. */
  periodSpendUsd?: number;
  lastUsedAt?: number;
}

const label = z.string().trim().min(1).max(128);
const limit = z.number().int().positive().max(1_000_000_000);
const short = z.string().max(256);
const metadataSchema = z
  .object({
    team: short.optional(),
    user: short.optional(),
    tags: z.array(z.string().max(64)).max(32).optional(),
  })
  .catchall(short)
  .refine((metadata) => Object.keys(metadata).length <= 32, { message: 'at most 32 fields' })
  .refine((metadata) => Object.keys(metadata).every((name) => name.length > 0 && name.length <= 64), {
    message: 'field names must have 1 to 64 characters',
  });
const budgetSchema = z.strictObject({
  usd: z.number().positive().max(1_000_000_000),
  period: z.enum(budgetPeriods),
});
/** Unix seconds, or an ISO 8601 date-time (`2026-12-31T23:59:59Z`). */
const instant = z.union([z.number().int().positive().max(253_402_300_799), z.iso.datetime({ offset: true })]);

const fields = {
  models: z.array(z.string().min(1).max(256)).min(1).max(1024).nullish(),
  rpm: limit.nullish(),
  tpm: limit.nullish(),
  max_concurrency: limit.nullish(),
  budget: budgetSchema.nullish(),
  expires_at: instant.nullish(),
  metadata: metadataSchema.nullish(),
};

export const createKeySchema = z.strictObject({ name: label, ...fields });
export const updateKeySchema = z.strictObject({ name: label.optional(), ...fields });
export type CreateKeyInput = z.output<typeof createKeySchema>;
export type UpdateKeyInput = z.output<typeof updateKeySchema>;

/** Parse with `schema`, or throw the 400 a client can act on (`param` names the field). */
export function parseInput<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw invalidInput(result.error.issues[0]!);
}

function invalidInput(issue: z.core.$ZodIssue): GatewayError {
  if (issue.code === 'unrecognized_keys') {
    const name = [...issue.path.map(String), issue.keys[0] ?? ''].join('.');
    return invalidRequest(`Unrecognized request argument supplied: ${name.slice(0, 64)}`, name.slice(0, 64));
  }
  if (issue.path.length === 0) return invalidRequest('The request body must be a JSON object.');
  const param = issue.path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
  return invalidRequest(`Invalid value for '${param}': ${issue.message}.`, param);
}

/** Epoch ms of an `instant` (unix seconds or ISO text). */
export function instantMs(value: number | string): number {
  return typeof value === 'number' ? value * 1000 : Date.parse(value);
}

/**
 * A record changed by a patch: `null` clears a field, absent leaves it. Returns a new record.
 * @example applyUpdate(record, { rpm: null, budget: { usd: 5, period: 'day' } }, now)
 */
export function applyUpdate(record: KeyRecord, patch: UpdateKeyInput, now: number): KeyRecord {
  const next: KeyRecord = { ...record, updated_at: now };
  if (patch.name !== undefined) next.name = patch.name;
  const set = <F extends 'models' | 'rpm' | 'tpm' | 'max_concurrency' | 'budget' | 'metadata'>(
    field: F,
    value: KeyRecord[F] | null | undefined,
  ) => {
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  };
  set('models', patch.models);
  set('rpm', patch.rpm);
  set('tpm', patch.tpm);
  set('max_concurrency', patch.max_concurrency);
  set('budget', patch.budget);
  set('metadata', patch.metadata as KeyMetadata | null | undefined);
  if (patch.expires_at === null) delete next.expires_at;
  else if (patch.expires_at !== undefined) next.expires_at = instantMs(patch.expires_at);
  return next;
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function statusOf(record: KeyRecord, now: number): KeyStatus {
  if (record.revoked_at !== undefined) return 'revoked';
  if (record.expires_at !== undefined && record.expires_at <= now) return 'expired';
  return 'active';
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.floor(ms / 1000));
const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** The record as the admin API shows it: no hash, absent fields as null, times in unix seconds. */
export function publicView(record: KeyRecord, now: number, usage?: KeyUsage, periodResetsAt?: number) {
  return {
    id: record.id,
    object: 'switchyard.key',
    name: record.name,
    /** The key's public part: enough to recognise it, never to use it. */
    key_preview: `sk-sy-${record.id}_…`,
    status: statusOf(record, now),
    models: record.models ?? null,
    rpm: record.rpm ?? null,
    tpm: record.tpm ?? null,
    max_concurrency: record.max_concurrency ?? null,
    budget: record.budget
      ? {
          ...record.budget,
          spent_usd: usage?.periodSpendUsd === undefined ? null : round(usage.periodSpendUsd),
          remaining_usd:
            usage?.periodSpendUsd === undefined
              ? null
              : round(Math.max(0, record.budget.usd - usage.periodSpendUsd)),
          resets_at: record.budget.period === 'total' ? null : seconds(periodResetsAt),
        }
      : null,
    expires_at: seconds(record.expires_at),
    metadata: record.metadata ?? null,
    created_at: seconds(record.created_at),
    updated_at: seconds(record.updated_at),
    revoked_at: seconds(record.revoked_at),
    last_used_at: seconds(usage?.lastUsedAt),
    usage: usage ? { requests: usage.requests, spend_usd: round(usage.spendUsd) } : null,
  };
}

export type KeyView = ReturnType<typeof publicView>;
