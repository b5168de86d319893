/**
 * The admin API of the virtual keys, behind the admin key like every `/admin` path:
 *   POST   /admin/keys        create; 201 with the key, shown this once
 *   GET    /admin/keys        every key (no key, no hash), with its usage
 *   GET    /admin/keys/{id}   one key, with its spend this period and in total, requests, last use
 *   PATCH  /admin/keys/{id}   change name, models, limits, budget, expiry, metadata (null clears)
 *   DELETE /admin/keys/{id}   revoke, on every instance at once
 * Every call writes one audit line (who: the admin key's id; what; which key id; never a key),
 * whatever its outcome.
 * Managing keys needs a configured admin key (or client keys): without one anyone could make keys.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.ts';
import { isKeyId } from '../keys/key-format.ts';
import { createKeySchema, parseInput, updateKeySchema } from '../keys/record.ts';
import type { KeyService } from '../keys/service.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { Handler, RequestContext, RouteTable } from './routes.ts';

export interface KeysRoutesOptions {
  /** Whether `server.admin_key` (or `server.api_keys`) is set: the API refuses to run open. */
  adminKeyConfigured: boolean;
  audit: { info(object: object, message?: string): void };
}

const bodyLimit = 64 * 1024;
const prefix = '/admin/keys/';

export function keysRoutes(keys: KeyService, options: KeysRoutesOptions): RouteTable {
  /**
   * A handler that answers `status` with `body`, behind the guard, with one audit line whatever
   * happened (`status` is the error's when it failed).
   */
  function audited(
    action: string,
    run: (request: IncomingMessage, context: RequestContext, entry: AuditEntry) => Promise<[number, unknown]>,
  ): Handler {
    return async (request, response, context) => {
      const entry: AuditEntry = { audit: true, action, keyId: context.clientKeyId ?? null };
      try {
        if (!options.adminKeyConfigured)
          throw new GatewayError(
            'unauthorized',
            'Set server.admin_key to manage virtual keys: without it anyone could make one.',
          );
        const [status, body] = await run(request, context, entry);
        entry.status = status;
        sendJson(response, status, body);
      } catch (error) {
        entry.status = error instanceof GatewayError ? error.status : 500;
        throw error;
      } finally {
        options.audit.info(entry, `admin ${action}`);
      }
    };
  }

  return {
    'POST /admin/keys': audited('key.create', async (request, _context, entry) => {
      const input = parseInput(createKeySchema, await body(request));
      const { record, key } = await keys.create(input);
      entry.targetKeyId = record.id;
      return [201, { ...(await keys.get(record.id)), key }];
    }),
    'GET /admin/keys': audited('key.list', async () => [200, { object: 'list', data: await keys.list() }]),
    'GET /admin/keys/*': audited('key.get', async (_request, context, entry) => {
      const id = idOf(context);
      entry.targetKeyId = id;
      return [200, orNotFound(id, await keys.get(id))];
    }),
    'PATCH /admin/keys/*': audited('key.update', async (request, context, entry) => {
      const id = idOf(context);
      entry.targetKeyId = id;
      const patch = parseInput(updateKeySchema, await body(request));
      entry.fields = Object.keys(patch);
      return [200, orNotFound(id, await keys.update(id, patch))];
    }),
    'DELETE /admin/keys/*': audited('key.revoke', async (_request, context, entry) => {
      const id = idOf(context);
      entry.targetKeyId = id;
      return [200, orNotFound(id, await keys.revoke(id))];
    }),
  };
}

/** Shaped like the server's `admin access` line, plus what was done to which key. */
interface AuditEntry {
  audit: true;
  action: string;
  /** Who: the admin key's id (its keyed hash), never the key. */
  keyId: string | null;
  /** Which virtual key (its public id). */
  targetKeyId?: string;
  /** The fields a PATCH changed. */
  fields?: string[];
  status?: number;
}

function idOf(context: RequestContext): string {
  const raw = context.url.pathname.slice(prefix.length);
  if (!isKeyId(raw)) throw notFound(raw);
  return raw;
}

async function body(request: IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(request, bodyLimit));
}

function orNotFound<T>(id: string, value: T | undefined): T {
  if (value === undefined) throw notFound(id);
  return value;
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No key with id "${id.slice(0, 64)}".`, { param: 'id' });
}
