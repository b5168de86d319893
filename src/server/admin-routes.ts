/**
 * Operator endpoints: `/admin/requests` (the request log), `/metrics`, and
 * `/admin/simulate` (take a simulated model down or up). Observability modules expose data;
 * this file serves it.
 */

import { GatewayError } from '../errors.ts';
import type { Gateway } from '../gateway/index.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { parseRequestQuery, type RequestLog } from '../observability/request-log.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { RouteTable } from './routes.ts';

export function adminRoutes(
  gateway: Gateway,
  metrics: GatewayMetrics | undefined,
  requestLog: RequestLog | undefined,
): RouteTable {
  const routes: RouteTable = {
    'GET /admin/requests': (_request, response, context) => {
      if (!requestLog) {
        throw new GatewayError(
          'not_found',
          'The request log is disabled: set observability.request_log.enabled to true.',
        );
      }
      requestLog.flush(); // what was already answered is visible at once
      sendJson(response, 200, requestLog.query(parseRequestQuery(context.url.searchParams)));
    },
    'POST /admin/simulate': async (request, response) => {
      const body = parseJson(await readBody(request, 64 * 1024)) as {
        model?: unknown;
        action?: unknown;
        mode?: unknown;
      };
      const model = typeof body.model === 'string' ? body.model : '';
      const control = gateway.simulation(model);
      if (!control)
        throw new GatewayError('model_not_found', `"${model.slice(0, 256)}" is not a simulated model`, {
          param: 'model',
        });
      if (body.action === 'down')
        control.takeDown(body.mode === 'hang' || body.mode === 'refuse' ? body.mode : 'error');
      else if (body.action === 'up') control.restore();
      else throw new GatewayError('invalid_request', 'action must be "down" or "up"', { param: 'action' });
      sendJson(response, 200, { model, down: control.forcedDown });
    },
  };
  if (metrics) {
    routes['GET /metrics'] = async (_request, response) => {
      const { text, contentType } = await metrics.render();
      response.writeHead(200, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      response.end(text);
    };
  }
  return routes;
}
