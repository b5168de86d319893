/**
 * The live dashboard's HTTP side: the page and its two static assets (from `dashboard/` at the
 * package root, read once), a JSON snapshot, and a server-sent-events stream that pushes the
 * same snapshot to every viewer once a second. One timer serves all viewers and runs only
 * while someone is watching; a viewer whose socket is backed up skips frames instead of
 * buffering them. With the gateway and its request log at hand, the request console too
 * (`console-routes.ts`): the log's rows, one request in full, and the per-model controls; each
 * model in the snapshot then says whether it is in rotation.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { DashboardData, DashboardSnapshot, StatsSource } from '../observability/dashboard-data.ts';
import { type ConsoleDeps, consoleApi } from './console-routes.ts';
import { sendJson } from './http-io.ts';
import type { RequestUrl } from './routes.ts';

const assetDir = new URL('../../dashboard/', import.meta.url);

const assetTypes: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};

const requestDetailPrefix = 'api/requests/';

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

type RouteHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  context: { url: RequestUrl },
) => void | Promise<void>;

export interface DashboardServer {
  routes: Record<string, RouteHandler>;
  /** Viewers connected to the event stream. */
  readonly viewers: number;
  /** End every event stream and stop the timer. */
  close(): void;
}

export function createDashboard(
  data: DashboardData,
  stats: () => StatsSource,
  options: { intervalMs?: number; console?: ConsoleDeps } = {},
): DashboardServer {
  const intervalMs = options.intervalMs ?? 1000;
  const requestConsole = options.console && consoleApi(options.console);
  const gateway = options.console?.gateway;
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(assetTypes)) assets.set(name, readFileSync(new URL(name, assetDir)));
  const viewers = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function serveAsset(response: ServerResponse, name: string): void {
    const body = assets.get(name);
    const type = assetTypes[name];
    if (!body || !type) throw new GatewayError('not_found', `Unknown dashboard asset: ${name}`);
    response.writeHead(200, { 'content-type': type, 'content-length': body.length, ...securityHeaders });
    response.end(body);
  }

  /** The snapshot, each model with whether an operator has it in rotation (when the console is on). */
  function snapshot(): DashboardSnapshot {
    const current = data.snapshot(stats());
    if (!gateway) return current;
    const inRotation = new Map(gateway.modelStatus().map((status) => [status.model, status.inRotation]));
    return {
      ...current,
      models: current.models.map((model) => ({ ...model, in_rotation: inRotation.get(model.model) ?? true })),
    };
  }

  function frame(): string {
    return `data: ${JSON.stringify(snapshot())}\n\n`;
  }

  function tick(): void {
    if (viewers.size === 0) return;
    const text = frame();
    for (const viewer of viewers) {
      if (viewer.destroyed || viewer.writableEnded) {
        viewers.delete(viewer);
        continue;
      }
      if (viewer.writableNeedDrain) continue; // a slow viewer misses a frame rather than queueing it
      viewer.write(text);
    }
  }

  function events(request: IncomingMessage, response: ServerResponse): void {
    if (closed) throw new GatewayError('no_model_available', 'the gateway is shutting down');
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(`retry: 2000\n${frame()}`);
    viewers.add(response);
    const leave = () => {
      viewers.delete(response);
      if (viewers.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    };
    response.once('close', leave);
    request.once('aborted', leave);
    if (!timer) {
      timer = setInterval(tick, intervalMs);
      timer.unref();
    }
  }

  return {
    routes: {
      'GET /dashboard': (_request, response) => serveAsset(response, 'index.html'),
      'GET /dashboard/events': events,
      'GET /dashboard/api/snapshot': (_request, response) =>
        sendJson(response, 200, snapshot(), { 'cache-control': 'no-store' }),
      ...requestConsole?.routes,
      'GET /dashboard/*': (_request, response, context) => {
        const name = context.url.pathname.slice('/dashboard/'.length);
        if (requestConsole && name.startsWith(requestDetailPrefix)) {
          requestConsole.requestDetail(response, name.slice(requestDetailPrefix.length));
          return;
        }
        if (name === '' || name === 'index.html') {
          response.writeHead(308, { location: '../dashboard' });
          response.end();
          return;
        }
        if (!Object.hasOwn(assetTypes, name))
          throw new GatewayError('not_found', `Unknown endpoint: GET ${context.url.pathname}`);
        serveAsset(response, name);
      },
    },
    get viewers() {
      return viewers.size;
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const viewer of viewers) viewer.end();
      viewers.clear();
    },
  };
}
