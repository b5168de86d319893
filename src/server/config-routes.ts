/**
 * The running config over HTTP, behind the admin key like every `/admin` path:
 *   GET  /admin/config          the config that serves now, normalised (durations in ms), secrets
 *                               replaced by "[redacted]"
 *   POST /admin/config/reload   re-read the config file and swap it in (`config-reload.ts`):
 *                               200 with the models added, removed and kept and the settings that
 *                               need a restart; 400 with every problem as `path: message` (the
 *                               running config stays)
 * A reload writes one audit line (who: the admin key's id; the outcome), whatever happened.
 */
import type { GatewayConfig } from '../config/load.ts';
import { GatewayError } from '../errors.ts';
import type { Gateway } from '../gateway/index.ts';
import { secretsOf } from '../gateway/wiring.ts';
import { createScrubber } from '../lib/secrets.ts';
import type { ConfigReloader } from './config-reload.ts';
import { sendJson } from './http-io.ts';
import type { RouteTable } from './routes.ts';

export const redacted = '[redacted]';

export interface ConfigRoutesOptions {
  /** Absent: the gateway was started from a config object with nothing to re-read. */
  reloader: ConfigReloader | undefined;
  audit: { info(object: object, message?: string): void };
}

export function configRoutes(gateway: Pick<Gateway, 'config'>, options: ConfigRoutesOptions): RouteTable {
  return {
    'GET /admin/config': (_request, response) => {
      sendJson(response, 200, redactedConfig(gateway.config), { 'cache-control': 'no-store' });
    },
    'POST /admin/config/reload': async (_request, response, context) => {
      const entry: Record<string, unknown> = {
        audit: true,
        action: 'config.reload',
        keyId: context.clientKeyId ?? null,
      };
      try {
        if (!options.reloader) {
          throw new GatewayError(
            'not_found',
            'This gateway was started from a config object, not a file: there is nothing to re-read.',
          );
        }
        const result = await options.reloader.reload('http');
        if (!result.ok) {
          entry.status = 400;
          entry.problems = result.problems.length;
          const error = new GatewayError(
            'invalid_request',
            `The config has ${result.problems.length} problem(s); the running config stays.`,
          );
          sendJson(response, 400, { ...error.toJSON(), problems: result.problems });
          return;
        }
        entry.status = 200;
        entry.added = result.added;
        entry.removed = result.removed;
        sendJson(response, 200, {
          reloaded: true,
          models: { added: result.added, removed: result.removed, kept: result.kept },
          restart_needed: result.restartNeeded,
        });
      } catch (error) {
        entry.status = error instanceof GatewayError ? error.status : 500;
        throw error;
      } finally {
        options.audit.info(entry, 'admin config.reload');
      }
    },
  };
}

/**
 * The config as JSON with every secret replaced: provider keys, `headers` values of every model,
 * client and admin keys, the key secret, trace export headers, and the password of any URL (the
 * Redis URL, a base URL with credentials). Every other string is passed through the scrubber of
 * the config's own secrets too, so a key pasted into another field does not show either.
 */
export function redactedConfig(config: GatewayConfig): unknown {
  const scrub = createScrubber(secretsOf(config));
  const { server, observability, state } = config;
  const view = {
    server: {
      ...server,
      api_keys: server.api_keys.map(() => redacted),
      admin_key: server.admin_key === undefined ? undefined : redacted,
      key_secret: server.key_secret === undefined ? undefined : redacted,
    },
    models: Object.fromEntries(
      config.models.map((spec) => [
        spec.name,
        {
          ...spec,
          apiKey: spec.apiKey === undefined ? undefined : redacted,
          headers: Object.fromEntries(Object.keys(spec.headers).map((name) => [name, redacted])),
        },
      ]),
    ),
    routing: config.routing,
    resilience: config.resilience,
    observability: {
      ...observability,
      otel: observability.otel && {
        ...observability.otel,
        headers: Object.fromEntries(Object.keys(observability.otel.headers).map((name) => [name, redacted])),
      },
    },
    state: state.redis
      ? { ...state, redis: { ...state.redis, url: withoutPassword(state.redis.url) } }
      : state,
    responses: config.responses,
    cache: config.cache,
  };
  return plain(view, scrub);
}

/** JSON-ready: sets as arrays, regular expressions as their source, strings scrubbed and URL passwords removed. */
function plain(value: unknown, scrub: (text: string) => string): unknown {
  if (typeof value === 'string') return value === redacted ? value : scrub(withoutPassword(value));
  if (value instanceof Set) return [...value].map((item) => plain(item, scrub));
  if (value instanceof RegExp) return value.source;
  if (Array.isArray(value)) return value.map((item) => plain(item, scrub));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined && typeof item !== 'function') out[key] = plain(item, scrub);
    }
    return out;
  }
  return value;
}

/** `scheme://user:secret@host/...` -> `scheme://user:[redacted]@host/...`; anything else unchanged. */
export function withoutPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]+@/i, `$1:${redacted}@`);
}
