/**
 * The HTTP face of the gateway, on node:http directly (the hot path has no framework between
 * the socket and the router). Routes are an exact-match table plus `/*` prefix routes; every
 * response path ends in exactly one answer or one error in the API's own shape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors.ts';
import { asGatewayError, type Gateway } from '../gateway/index.ts';
import { StatsCollector } from '../observability/stats.ts';
import { apiRoutes } from './api-routes.ts';
import { sendError, sendJson } from './http-io.ts';
import type { Authenticator, ClientIdentity, ErrorWriter, Handler, RouteTable } from './routes.ts';

export type {
  Authenticator,
  ClientIdentity,
  ErrorWriter,
  Handler,
  RequestContext,
  RouteTable,
} from './routes.ts';

export interface ServerOptions {
  /** Routes added by other modules (admin, metrics, dashboard); a key ending in `/*` matches a prefix. */
  routes?: RouteTable;
  /** Every instance's spend per model, for `/admin/stats` (state shared through the store). */
  fleetSpend?: () => Promise<ReadonlyMap<string, number>>;
  /** Virtual keys. */
  authenticator?: Authenticator;
  /** Front doors whose errors have their own shape, by path prefix. */
  errorWriters?: Array<[prefix: string, writer: ErrorWriter]>;
}

export interface RunningServer {
  server: Server;
  url: string;
  stats: StatsCollector;
  /** Stop accepting, wait for in-flight requests (up to the drain timeout), then close. */
  close(): Promise<void>;
}

/** Paths anyone may read: health checks and the dashboard's page and assets (they hold no data). */
const publicPaths = new Set([
  '/health/liveness',
  '/health/readiness',
  '/dashboard',
  '/dashboard/',
  '/dashboard/app.js',
  '/dashboard/style.css',
]);

export function createGatewayServer(
  gateway: Gateway,
  options: ServerOptions = {},
): { server: Server; stats: StatsCollector; listen(port: number, host: string): Promise<RunningServer> } {
  const { config } = gateway;
  const stats = new StatsCollector(gateway);
  gateway.events.subscribe(stats);
  const apiKeys = config.server.api_keys.map((key) => Buffer.from(key));
  const adminKey = config.server.admin_key ? Buffer.from(config.server.admin_key) : undefined;
  let ready = true;
  let inFlight = 0;

  const exact: RouteTable = {
    ...apiRoutes(gateway),
    'GET /health/liveness': (_request, response) => sendJson(response, 200, { status: 'ok' }),
    'GET /health/readiness': readiness,
    'GET /admin/stats': async (_request, response) =>
      sendJson(response, 200, stats.report(options.fleetSpend ? await options.fleetSpend() : undefined)),
    ...options.routes,
  };
  const prefixes: Array<[string, string, Handler]> = [];
  for (const key of Object.keys(exact)) {
    if (!key.endsWith('/*')) continue;
    const [method, path] = key.split(' ') as [string, string];
    prefixes.push([method, path.slice(0, -1), exact[key]!]);
    delete exact[key];
  }

  function readiness(_request: IncomingMessage, response: ServerResponse): void {
    const statuses = gateway.modelStatus();
    const routable = statuses.filter((status) => status.breaker !== 'open').length;
    const ok = ready && routable > 0;
    sendJson(response, ok ? 200 : 503, {
      status: ok ? 'ready' : 'not_ready',
      models_routable: routable,
      models_total: statuses.length,
      draining: !ready,
    });
  }

  function route(method: string, path: string): Handler | undefined {
    const handler = exact[`${method} ${path}`];
    if (handler) return handler;
    for (const [prefixMethod, prefix, prefixHandler] of prefixes) {
      if (method === prefixMethod && path.startsWith(prefix)) return prefixHandler;
    }
    return undefined;
  }

  const { authenticator } = options;

  /**
   * Who may call this path. Admin paths (and the dashboard's data) take the admin key; API paths
   * take a static `server.api_keys` key or a virtual key. Without any key configured the API is
   * open (the default on loopback).
   */
  async function authorize(
    request: IncomingMessage,
    path: string,
    queryKey: string | null,
  ): Promise<ClientIdentity | undefined> {
    if (publicPaths.has(path)) return undefined;
    const isAdmin = path.startsWith('/admin') || path === '/metrics' || path.startsWith('/dashboard');
    const accepted = isAdmin && adminKey ? [adminKey] : apiKeys;
    const virtual = !isAdmin && authenticator?.required() === true;
    if (accepted.length === 0 && !virtual) return undefined;
    // EventSource cannot send headers: the dashboard passes its key as ?key=.
    const presented =
      bearer(request) ?? (path.startsWith('/dashboard/') ? (queryKey ?? undefined) : undefined);
    if (!presented)
      throw new GatewayError('unauthorized', 'Missing API key: send "Authorization: Bearer <key>".');
    // Compare digests: equal lengths, so the comparison leaks nothing about the key's length.
    const digest = createHash('sha256').update(presented).digest();
    if (accepted.some((key) => timingSafeEqual(createHash('sha256').update(key).digest(), digest))) {
      // An id for the request log that identifies the key without revealing it.
      return { keyId: authenticator?.idOf(presented) ?? `key_${digest.toString('hex').slice(0, 12)}` };
    }
    if (!isAdmin && authenticator) {
      const identity = await authenticator.identify(presented);
      if (identity) return identity;
    }
    throw new GatewayError('unauthorized', 'Incorrect API key provided.');
  }

  /** The error in the shape of the API the path belongs to. */
  function writeError(path: string, response: ServerResponse, error: unknown): void {
    for (const [prefix, writer] of options.errorWriters ?? []) {
      if (path.startsWith(prefix)) {
        writer(response, error);
        return;
      }
    }
    sendError(response, asGatewayError(error));
  }

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
    inFlight++;
    response.on('close', () => inFlight--);
    void handle(request, response);
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://gateway');
    const method = request.method ?? 'GET';
    try {
      const handler = route(method, url.pathname);
      if (!handler) {
        const known = Object.keys(exact).some((key) => key.endsWith(` ${url.pathname}`));
        throw known
          ? new GatewayError('method_not_allowed', `${method} is not allowed on ${url.pathname}`)
          : new GatewayError('not_found', `Unknown endpoint: ${method} ${url.pathname.slice(0, 256)}`);
      }
      const identity = await authorize(request, url.pathname, url.searchParams.get('key'));
      await handler(request, response, { url, clientKeyId: identity?.keyId, access: identity?.access });
    } catch (error) {
      const gatewayError = asGatewayError(error);
      if (gatewayError.code === 'internal_error') {
        gateway.logger.error(
          { err: gatewayError.cause ?? gatewayError, path: url.pathname },
          'unhandled error',
        );
      }
      if (gatewayError.code === 'client_closed_request' && response.destroyed) return;
      writeError(url.pathname, response, gatewayError);
    }
  }

  return {
    server,
    stats,
    listen(port, host) {
      return new Promise<RunningServer>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({
            server,
            stats,
            url: `http://${shownHost}:${address.port}`,
            async close() {
              ready = false;
              server.close();
              server.closeIdleConnections();
              const deadline = Date.now() + config.server.drain_timeout * 1000;
              while (inFlight > 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 25));
              server.closeAllConnections();
              await gateway.close();
            },
          });
        });
      });
    },
  };
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  // The scheme is case-insensitive (RFC 9110).
  if (header && /^bearer\s+/i.test(header)) return header.replace(/^bearer\s+/i, '').trim();
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : undefined;
}
