/**
 * `GET /admin/requests` (and the request console's list): its query parameters, validated, and
 * the page cursor. Every problem is a 400 naming the parameter.
 */
import { invalidRequest } from '../errors.ts';

export interface RequestQuery {
  limit?: number;
  cursor?: string;
  /** The model that answered or the model the client asked for. */
  model?: string;
  /** The client key's id (`client_key_id`). */
  key?: string;
  /** The front door: chat, messages, responses, embeddings. */
  api?: string;
  task?: string;
  /** An HTTP status (`503`), a class (`5xx`), `ok` (< 400) or `error` (>= 400). */
  status?: string;
  /** Inclusive lower bound on `ts` (ms). */
  since?: number;
  /** Exclusive upper bound on `ts` (ms). */
  until?: number;
}

export function encodeCursor(ts: number, id: number): string {
  return Buffer.from(`${ts}:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { ts: number; id: number } {
  const match = /^(-?\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match)
    throw invalidRequest('cursor is not valid: pass the next_cursor of a previous page unchanged', 'cursor');
  return { ts: Number(match[1]), id: Number(match[2]) };
}

export function statusRange(status: string): [number, number] {
  if (status === 'ok') return [0, 399];
  if (status === 'error') return [400, 999];
  const group = /^([1-5])xx$/i.exec(status);
  if (group) return [Number(group[1]) * 100, Number(group[1]) * 100 + 99];
  if (/^[1-5]\d\d$/.test(status)) return [Number(status), Number(status)];
  throw invalidRequest(
    'status must be an HTTP status (e.g. 503), a class (2xx, 4xx, 5xx), "ok" or "error"',
    'status',
  );
}
const queryParams = new Set(['limit', 'cursor', 'model', 'status', 'since', 'until', 'key', 'api', 'task']);

/** Validate `/admin/requests` query parameters; every problem is a 400 naming the parameter. */
export function parseRequestQuery(params: URLSearchParams): RequestQuery {
  for (const key of params.keys()) {
    if (!queryParams.has(key)) {
      throw invalidRequest(
        `unknown query parameter "${key}"; expected one of: ${[...queryParams].join(', ')}`,
        key,
      );
    }
  }
  const query: RequestQuery = {};
  const single = (name: string): string | undefined => {
    const values = params.getAll(name);
    if (values.length > 1) throw invalidRequest(`${name} may be given only once`, name);
    return values[0];
  };
  const limit = single('limit');
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) {
      throw invalidRequest('limit must be an integer from 1 to 1000', 'limit');
    }
    query.limit = Number(limit);
  }
  const cursor = single('cursor');
  if (cursor !== undefined) {
    decodeCursor(cursor);
    query.cursor = cursor;
  }
  const model = single('model');
  if (model !== undefined) {
    if (model.length === 0 || model.length > 200) throw invalidRequest('model must be a model name', 'model');
    query.model = model;
  }
  const status = single('status');
  if (status !== undefined) {
    statusRange(status);
    query.status = status;
  }
  for (const name of ['key', 'api', 'task'] as const) {
    const value = single(name);
    if (value === undefined) continue;
    if (value.length === 0 || value.length > 200)
      throw invalidRequest(`${name} must be a non-empty value`, name);
    query[name] = value;
  }
  const since = single('since');
  if (since !== undefined) query.since = parseTime(since, 'since');
  const until = single('until');
  if (until !== undefined) query.until = parseTime(until, 'until');
  if (query.since !== undefined && query.until !== undefined && query.since > query.until) {
    throw invalidRequest('since must not be later than until', 'since');
  }
  return query;
}

/** Milliseconds since the epoch, or an ISO 8601 date/time. */
function parseTime(value: string, name: string): number {
  if (/^\d{1,16}$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  throw invalidRequest(
    `${name} must be a time in milliseconds since the epoch or an ISO 8601 date (e.g. 2025-01-31T12:00:00Z)`,
    name,
  );
}
