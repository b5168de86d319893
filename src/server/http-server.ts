/**
 * The HTTP face of the gateway, on node:http directly (the hot path has no framework between
 * the socket and the router). Routes are an exact-match table plus `/*` prefix routes; every
 * response path ends in exactly one answer or one error in the API's own shape.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors.ts';
import { asGatewayError, type Gateway } from '../gateway/index.ts';
import { StatsCollector } from '../observability/stats.ts';
import { apiRoutes } from './api-routes.ts';
import { sendError, sendJson, setWriteTimeout } from './http-io.ts';
import {
  type Authenticator,
  type ClientIdentity,
  type ErrorWriter,
  type Handler,
  type RouteTable,
  requestUrl,
} from './routes.ts';

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
  /** Called at shutdown once requests have drained, before the gateway (and its store) closes. */
  onDrained?: () => void;
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
  '/dashboard/console.js',
]);

export function createGatewayServer(
  gateway: Gateway,
  options: ServerOptions = {},
): { server: Server; stats: StatsCollector; listen(port: number, host: string): Promise<RunningServer> } {
  const { config } = gateway;
  const stats = new StatsCollector(gateway);
  gateway.events.subscribe(stats);
  const apiKeys = staticKeys(config.server.api_keys);
  const adminKeys = config.server.admin_key ? staticKeys([config.server.admin_key]) : undefined;
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
  async function authorize(request: IncomingMessage, path: string): Promise<ClientIdentity | undefined> {
    if (publicPaths.has(path)) return undefined;
    const isAdmin = path.startsWith('/admin') || path === '/metrics' || path.startsWith('/dashboard');
    const accepted = isAdmin && adminKeys ? adminKeys : apiKeys;
    const virtual = !isAdmin && authenticator?.required() === true;
    if (accepted.keys.length === 0 && !virtual) return undefined;
    // The dashboard's data: its session cookie stands for the admin key (EventSource sends no headers).
    if (
      path.startsWith('/dashboard/') &&
      accepted.keys.some((key) => validSession(request.headers.cookie, key))
    ) {
      return { keyId: 'dashboard-session' };
    }
    const presented = bearer(request);
    if (!presented)
      throw new GatewayError('unauthorized', 'Missing API key: send "Authorization: Bearer <key>".');
    if (accepted.keys.length > 0) {
      const digest = sha256(presented);
      if (matching(accepted, digest)) {
        // An id for the request log that identifies the key without revealing it.
        return { keyId: authenticator?.idOf(presented) ?? `key_${digest.toString('hex').slice(0, 12)}` };
      }
    }
    if (!isAdmin && authenticator) {
      const identity = await authenticator.identify(presented);
      if (identity) return identity;
    }
    throw new GatewayError('unauthorized', 'Incorrect API key provided.');
  }

  function audit(
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    path: string,
    keyId: string | undefined,
  ) {
    response.once('finish', () =>
      gateway.logger.info(
        {
          audit: true,
          method,
          path: path.slice(0, 256),
          keyId: keyId ?? null,
          status: response.statusCode,
          remote: request.socket.remoteAddress,
        },
        'admin access',
      ),
    );
  }

  /**
   * `/dashboard?key=<admin key>`: the key is exchanged for an HttpOnly, SameSite=Strict cookie
   * and dropped from the address, so it travels in no URL, history or log after this one request.
   */
  function exchangeDashboardKey(presented: string, response: ServerResponse): void {
    const key = matching(adminKeys ?? apiKeys, sha256(presented));
    const headers: Record<string, string> = {
      location: '/dashboard',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    };
    if (key) {
      headers['set-cookie'] =
        `${sessionCookie}=${sessionValue(key, Date.now() + sessionMs)}; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=${sessionMs / 1000}`;
    }
    response.writeHead(303, headers);
    response.end();
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

  const limits = config.server;
  // One listener for every response (not a closure each).
  const requestClosed = () => {
    inFlight--;
  };
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      // A client trickling its headers or body is cut off (a node:http default of 0 keeps it forever).
      headersTimeout: limits.headers_timeout * 1000,
      requestTimeout: limits.request_timeout * 1000,
      // How often those two are checked: the node:http default (30 s) would let a slow client stay far longer.
      connectionsCheckingInterval: 1000,
    },
    (request, response) => {
      inFlight++;
      response.on('close', requestClosed);
      setWriteTimeout(response, limits.write_timeout * 1000);
      void handle(request, response);
    },
  );
  server.maxConnections = limits.max_connections;
  const perAddress = new Map<string, number>();
  if (limits.max_connections_per_ip > 0) {
    server.on('connection', (socket) => {
      const address = socket.remoteAddress ?? '';
      const open = (perAddress.get(address) ?? 0) + 1;
      if (open > limits.max_connections_per_ip) {
        socket.destroy();
        return;
      }
      perAddress.set(address, open);
      socket.once('close', () => {
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left <= 0) perAddress.delete(address);
        else perAddress.set(address, left);
      });
    });
  }

  /** Without any key, only this machine may talk to the gateway: no foreign page, no rebound host name. */
  let openOnLoopback = false;
  const allowedHosts = new Set([
    'localhost',
    '127.0.0.1',
    '[::1]',
    '::1',
    ...limits.allowed_hosts.map((host) => host.toLowerCase()),
  ]);

  function checkLocalCaller(request: IncomingMessage): void {
    if (!openOnLoopback || (authenticator?.required() ?? false)) return;
    const host = hostName(request.headers.host);
    if (host === undefined || !(allowedHosts.has(host) || host.endsWith('.localhost'))) {
      throw new GatewayError(
        'forbidden',
        'This gateway has no client keys and answers only requests addressed to localhost.',
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let originHost: string | undefined;
      try {
        originHost = new URL(origin).hostname.toLowerCase();
      } catch {
        originHost = undefined;
      }
      if (
        originHost === undefined ||
        !(
          allowedHosts.has(originHost) ||
          allowedHosts.has(`[${originHost}]`) ||
          originHost.endsWith('.localhost')
        )
      ) {
        throw new GatewayError(
          'forbidden',
          'Cross-origin requests are refused: this gateway has no client keys.',
        );
      }
    }
  }

  /** A request with a body must say it is JSON: a page on another site cannot send that without a CORS preflight. */
  function checkJsonBody(request: IncomingMessage, method: string): void {
    if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') return;
    const length = request.headers['content-length'];
    const hasBody =
      request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return;
    const raw = request.headers['content-type'] ?? '';
    if (raw === 'application/json') return; // what nearly every client sends: no parsing
    const type = raw.split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) {
      throw new GatewayError(
        'unsupported_media_type',
        `Send the body as JSON with "Content-Type: application/json" (got "${type.slice(0, 100) || 'none'}").`,
      );
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request.url ?? '/');
    const method = request.method ?? 'GET';
    try {
      const handler = route(method, url.pathname);
      if (!handler) {
        const known = Object.keys(exact).some((key) => key.endsWith(` ${url.pathname}`));
        throw known
          ? new GatewayError('method_not_allowed', `${method} is not allowed on ${url.pathname}`)
          : new GatewayError('not_found', `Unknown endpoint: ${method} ${url.pathname.slice(0, 256)}`);
      }
      checkLocalCaller(request);
      checkJsonBody(request, method);
      if (url.pathname === '/dashboard' && url.searchParams.has('key')) {
        exchangeDashboardKey(url.searchParams.get('key') ?? '', response);
        return;
      }
      const identity = await authorize(request, url.pathname);
      if (isAuditedPath(url.pathname)) audit(request, response, method, url.pathname, identity?.keyId);
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
      const loopback = isLoopback(host);
      const keyed =
        apiKeys.keys.length > 0 || adminKeys !== undefined || (authenticator?.required() ?? false);
      if (!loopback && !keyed && !limits.allow_unauthenticated) {
        return Promise.reject(
          new Error(
            `refusing to listen on ${host} with no client keys and no admin key: anyone who can reach it could use the gateway and its admin API. ` +
              'Set server.api_keys and server.admin_key (or create virtual keys), or set server.allow_unauthenticated: true.',
          ),
        );
      }
      openOnLoopback = loopback && apiKeys.keys.length === 0 && adminKeys === undefined;
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
              options.onDrained?.();
              await gateway.close();
            },
          });
        });
      });
    },
  };
}

const sessionCookie = 'switchyard_dashboard';
const sessionMs = 12 * 3600 * 1000;

/** `<expiry>.<HMAC of it under the admin key>`: no server state, valid on every instance of a fleet. */
function sessionValue(key: Buffer, expiresAt: number): string {
  return `${expiresAt}.${createHmac('sha256', key).update(`dashboard-session:${expiresAt}`).digest('base64url')}`;
}

function validSession(cookieHeader: string | undefined, key: Buffer): boolean {
  if (!cookieHeader) return false;
  for (const part of cookieHeader.split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name !== sessionCookie || !value) continue;
    const expiresAt = Number(value.split('.')[0]);
    if (!Number.isFinite(expiresAt) || expiresAt < Date.now()) return false;
    const expected = Buffer.from(sessionValue(key, expiresAt));
    const given = Buffer.from(value);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
  return false;
}

/** Admin and dashboard data access is logged (who, what, outcome); assets and health are not. */
function isAuditedPath(path: string): boolean {
  return (
    (path.startsWith('/admin') || path === '/metrics' || path.startsWith('/dashboard/')) &&
    !publicPaths.has(path)
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The Host header's name without its port, lower-cased (`[::1]` keeps its brackets). */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const lower = header.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  // The scheme is case-insensitive (RFC 9110).
  if (header && /^bearer\s+/i.test(header)) return header.replace(/^bearer\s+/i, '').trim();
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : undefined;
}

function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Configured keys with their digests, computed once: a request hashes only the key it presents. */
interface StaticKeys {
  keys: Buffer[];
  digests: Buffer[];
}

function staticKeys(values: readonly string[]): StaticKeys {
  const keys = values.map((value) => Buffer.from(value));
  return { keys, digests: keys.map(sha256) };
}

/** The configured key with this digest. Digests have equal lengths: the comparison leaks nothing about a key's length. */
function matching(set: StaticKeys, digest: Buffer): Buffer | undefined {
  const index = set.digests.findIndex((candidate) => timingSafeEqual(candidate, digest));
  return index === -1 ? undefined : set.keys[index];
}
