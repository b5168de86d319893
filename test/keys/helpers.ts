/** Gateways with an admin key, and small clients for the keys admin API and the API a key opens. */
import OpenAI from 'openai';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';

export const adminKey = 'admin-secret-for-tests-0123456789';

export interface KeysGateway extends StartedGateway {
  admin(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any; headers: Headers }>;
  /** POST /admin/keys; throws unless 201. */
  createKey(body: Record<string, unknown>): Promise<{ id: string; key: string; [field: string]: unknown }>;
  clientFor(key: string): OpenAI;
  /** Every line the gateway's logger wrote (JSON). */
  logLines: () => any[];
}

export async function startKeysGateway(
  config: Partial<RawConfig> & { models: RawConfig['models'] },
  seed = 1,
): Promise<KeysGateway> {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        lines.push(line);
      },
    },
  );
  const normalized = normalizeConfig(
    {
      ...config,
      server: { host: '127.0.0.1', port: 0, admin_key: adminKey, ...config.server },
      observability: {
        log_level: 'info',
        ...config.observability,
        request_log: { path: ':memory:', ...config.observability?.request_log },
      },
    },
    {},
  );
  const started = await startServer(normalized, { seed, logger });
  return withAdmin(started, () => lines.map((line) => JSON.parse(line)));
}

export function withAdmin(started: StartedGateway, logLines: () => any[] = () => []): KeysGateway {
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${started.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  return Object.assign(started, {
    admin,
    async createKey(body: Record<string, unknown>) {
      const created = await admin('POST', '/admin/keys', body);
      if (created.status !== 201)
        throw new Error(`POST /admin/keys: ${created.status} ${JSON.stringify(created.json)}`);
      return created.json;
    },
    clientFor(key: string) {
      return new OpenAI({ baseURL: `${started.url}/v1`, apiKey: key, maxRetries: 0 });
    },
    logLines,
  });
}

export const hello = (model = 'auto', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user' as const, content: 'Hello there, how are you?' }],
  ...extra,
});

/** Wait until `check` holds (polling every 20 ms), or fail after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 2000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
