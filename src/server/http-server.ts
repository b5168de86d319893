/**
 * The HTTP face of the gateway, on node:http directly (the hot path has no framework between
 * the socket and the router). Routes are an exact-match table; every response path ends in
 * exactly one answer or one OpenAI-shaped error, and a client that disconnects aborts the
 * upstream call.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors.ts';
import { asGatewayError, type Gateway, type ResponseMeta } from '../gateway.ts';
import { StatsCollector } from '../observability/stats.ts';
import { parseJson, readBody, sendError, sendJson, writeWithBackpressure } from './http-io.ts';
import { validateChatRequest, validateEmbeddingsRequest } from './validate.ts';

type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext,
) => Promise<void> | void;

interface RequestContext {
  url: URL;
  clientKeyId: string | undefined;
}

/** Extra routes other modules mount (metrics, request log, dashboard). */
export interface RouteTable {
  [methodAndPath: string]: Handler;
}

export interface ServerOptions {
  /** Routes added by observability modules, e.g. `GET /metrics`. */
  routes?: RouteTable;
  /** Path prefixes answered by a handler (e.g. `GET /dashboard/` for static assets). */
  prefixRoutes?: RouteTable;
}

export interface RunningServer {
  server: Server;
  url: string;
  stats: StatsCollector;
  /** Stop accepting, wait for in-flight requests (up to the drain timeout), then close. */
  close(): Promise<void>;
}

export function createGatewayServer(
  gateway: Gateway,
  options: ServerOptions = {},
): { server: Server; stats: StatsCollector; listen(port: number, host: string): Promise<RunningServer> } {
  const { config } = gateway;
  const stats = new StatsCollector(gateway.health);
  gateway.events.subscribe(stats);
  const apiKeys = config.server.api_keys.map((key) => Buffer.from(key));
  const adminKey = config.server.admin_key ? Buffer.from(config.server.admin_key) : undefined;
  let ready = true;
  let inFlight = 0;

  const routes: RouteTable = {
    'POST /v1/chat/completions': chatCompletions,
    'POST /chat/completions': chatCompletions,
    'GET /v1/models': listModels,
    'GET /models': listModels,
    'POST /v1/embeddings': embeddings,
    'POST /v1/route': routeOnly,
    'GET /health/liveness': (_request, response) => sendJson(response, 200, { status: 'ok' }),
    'GET /health/readiness': readiness,
    'GET /admin/stats': (_request, response) => sendJson(response, 200, stats.report()),
    'POST /admin/simulate': simulate,
    ...options.routes,
  };

  async function chatCompletions(
    request: IncomingMessage,
    response: ServerResponse,
    context: RequestContext,
  ): Promise<void> {
    const body = validateChatRequest(parseJson(await readBody(request, config.server.body_limit)));
    const abort = abortOnDisconnect(request, response);
    const requestOptions = {
      signal: abort.signal,
      headers: request.headers,
      clientKeyId: context.clientKeyId,
      requestId: headerString(request, 'x-request-id'),
    };
    if (body.stream !== true) {
      const { completion, meta } = await gateway.chat(body, requestOptions);
      if (abort.signal.aborted) return;
      sendJson(response, 200, completion, metaHeaders(meta));
      return;
    }
    const { meta, chunks } = await gateway.chatStream(body, requestOptions);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...metaHeaders(meta),
    });
    // No flushHeaders(): the first chunk is ready, and the headers go out in the same write.
    try {
      for await (const chunk of chunks) {
        if (!(await writeWithBackpressure(response, `data: ${JSON.stringify(chunk)}\n\n`))) return;
      }
      response.end('data: [DONE]\n\n');
    } catch (error) {
      // Headers are out: the failure is an SSE error event, and no [DONE] follows it.
      const gatewayError = asGatewayError(error);
      if (!response.destroyed) response.end(`data: ${JSON.stringify(gatewayError.toJSON())}\n\n`);
    }
  }

  function listModels(_request: IncomingMessage, response: ServerResponse): void {
    const created = Math.floor(Date.now() / 1000);
    sendJson(response, 200, {
      object: 'list',
      data: gateway.modelNames().map((id) => ({ id, object: 'model', created, owned_by: ownerOf(id) })),
    });
  }

  function ownerOf(id: string): string {
    if (id.startsWith('auto')) return 'switchyard';
    return config.models.find((spec) => spec.name === id)?.provider ?? 'switchyard';
  }

  async function embeddings(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = validateEmbeddingsRequest(parseJson(await readBody(request, config.server.body_limit)));
    const abort = abortOnDisconnect(request, response);
    const { response: result, model } = await gateway.embeddings(body, {
      signal: abort.signal,
      headers: request.headers,
    });
    sendJson(response, 200, result, { 'x-switchyard-model': model });
  }

  async function routeOnly(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = validateChatRequest(parseJson(await readBody(request, config.server.body_limit)));
    const decision = gateway.route(body, { headers: request.headers });
    const status = decision.model === undefined ? (decision.requestProblem ? 422 : 503) : 200;
    sendJson(response, status, decision);
  }

  function readiness(_request: IncomingMessage, response: ServerResponse): void {
    const routable = config.models.filter((spec) => gateway.health.get(spec.name)?.breaker !== 'open');
    const ok = ready && routable.length > 0;
    sendJson(response, ok ? 200 : 503, {
      status: ok ? 'ready' : 'not_ready',
      models_routable: routable.length,
      models_total: config.models.length,
      draining: !ready,
    });
  }

  async function simulate(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = parseJson(await readBody(request, 64 * 1024)) as {
      model?: unknown;
      action?: unknown;
      mode?: unknown;
    };
    const model = typeof body.model === 'string' ? body.model : '';
    const control = gateway.simulation(model);
    if (!control)
      throw new GatewayError('model_not_found', `"${model}" is not a simulated model`, { param: 'model' });
    if (body.action === 'down')
      control.takeDown(body.mode === 'hang' || body.mode === 'refuse' ? body.mode : 'error');
    else if (body.action === 'up') control.restore();
    else throw new GatewayError('invalid_request', 'action must be "down" or "up"', { param: 'action' });
    sendJson(response, 200, { model, down: control.forcedDown });
  }

  function authorize(request: IncomingMessage, path: string, queryKey: string | null): string | undefined {
    const isAdmin = path.startsWith('/admin') || path === '/metrics' || path.startsWith('/dashboard');
    // The dashboard's page and assets hold no data; its data endpoints need the key.
    const isPublic = path.startsWith('/health/') || publicDashboardPaths.has(path);
    if (isPublic) return undefined;
    const accepted = isAdmin && adminKey ? [adminKey] : apiKeys;
    if (accepted.length === 0) return undefined;
    // EventSource cannot send headers: the dashboard passes its key as ?key=.
    const presented =
      bearer(request) ?? (path.startsWith('/dashboard/') ? (queryKey ?? undefined) : undefined);
    if (!presented)
      throw new GatewayError('unauthorized', 'Missing API key: send "Authorization: Bearer <key>".');
    const candidate = Buffer.from(presented);
    const match = accepted.some((key) => key.length === candidate.length && timingSafeEqual(key, candidate));
    if (!match) throw new GatewayError('unauthorized', 'Incorrect API key provided.');
    // An id for the request log that identifies the key without revealing it.
    return `key_${createHash('sha256').update(presented).digest('hex').slice(0, 12)}`;
  }

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
    inFlight++;
    response.on('close', () => inFlight--);
    void handle(request, response);
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://gateway');
    let handler = routes[`${request.method} ${url.pathname}`];
    if (!handler && options.prefixRoutes) {
      for (const [key, prefixHandler] of Object.entries(options.prefixRoutes)) {
        const [method, prefix] = key.split(' ');
        if (request.method === method && url.pathname.startsWith(prefix!)) handler = prefixHandler;
      }
    }
    try {
      if (!handler) {
        const known = Object.keys(routes).some((key) => key.endsWith(` ${url.pathname}`));
        throw known
          ? new GatewayError('method_not_allowed', `${request.method} is not allowed on ${url.pathname}`)
          : new GatewayError('not_found', `Unknown endpoint: ${request.method} ${url.pathname}`);
      }
      const clientKeyId = authorize(request, url.pathname, url.searchParams.get('key'));
      await handler(request, response, { url, clientKeyId });
    } catch (error) {
      const gatewayError = asGatewayError(error);
      if (gatewayError.code === 'internal_error') {
        gateway.logger.error(
          { err: gatewayError.cause ?? gatewayError, path: url.pathname },
          'unhandled error',
        );
      }
      if (gatewayError.code === 'client_closed_request' && response.destroyed) return;
      sendError(response, gatewayError);
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

const publicDashboardPaths = new Set([
  '/dashboard',
  '/dashboard/',
  '/dashboard/app.js',
  '/dashboard/style.css',
]);

function metaHeaders(meta: ResponseMeta): Record<string, string> {
  return {
    'x-switchyard-model': meta.model,
    'x-switchyard-task': meta.task,
    'x-switchyard-fallbacks': String(meta.fallbacks),
    'x-switchyard-request-id': meta.requestId,
    'x-switchyard-priority': meta.priority,
  };
}

/** An AbortSignal that fires if the client goes away before the response is complete. */
function abortOnDisconnect(request: IncomingMessage, response: ServerResponse): AbortController {
  const controller = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) controller.abort(new Error('client disconnected'));
  };
  response.once('close', onClose);
  request.once('aborted', onClose);
  return controller;
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : undefined;
}

function headerString(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) return undefined;
  return /^[A-Za-z0-9._:-]+$/.test(value) ? value : undefined;
}
