/**
 * The request console's HTTP side, under `/dashboard/api/` so the dashboard's session cookie
 * (or the admin key as Bearer) authorises it: the request log, paged and filtered, one request
 * in full, and two operator controls (a model out of rotation and back, a breaker reset).
 *
 * The controls change state, so they refuse anything a page on another site could send: the
 * body must be declared JSON (a cross-site form cannot, and a cross-site fetch that does needs a
 * CORS preflight this server never grants), and a browser's `Origin` and `Sec-Fetch-Site` must
 * say the request came from this gateway's own page. The session cookie is SameSite=Strict too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { Gateway } from '../gateway/types.ts';
import { parseRequestQuery, type RequestLog, type RequestRow } from '../observability/request-log.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { RequestContext, RouteTable } from './routes.ts';

export interface ConsoleDeps {
  gateway: Pick<Gateway, 'modelStatus' | 'setInRotation' | 'resetBreaker' | 'logger'>;
  /** Undefined when `observability.request_log.enabled` is false. */
  requestLog: RequestLog | undefined;
}

export interface ConsoleApi {
  routes: RouteTable;
  /** `GET /dashboard/api/requests/{id}` (dispatched by the dashboard's `/dashboard/*` route). */
  requestDetail(response: ServerResponse, encodedId: string): void;
}

/** What a model's controls show: the state after the change. */
export interface ModelControlState {
  model: string;
  in_rotation: boolean;
  breaker: string;
}

const noStore = { 'cache-control': 'no-store' };
const modelsPrefix = '/dashboard/api/models/';
const controlBodyLimit = 4 * 1024;

export function consoleApi(deps: ConsoleDeps): ConsoleApi {
  const { gateway } = deps;

  function log(): RequestLog {
    if (!deps.requestLog) {
      throw new GatewayError(
        'not_found',
        'The request log is disabled: set observability.request_log.enabled to true.',
      );
    }
    return deps.requestLog;
  }

  function stateOf(model: string): ModelControlState {
    const status = gateway.modelStatus().find((entry) => entry.model === model);
    if (!status) throw unknownModel(model);
    return { model, in_rotation: status.inRotation, breaker: status.breaker };
  }

  async function control(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    refuseCrossSite(request);
    const rest = context.url.pathname.slice(modelsPrefix.length);
    const body = await readControlBody(request);
    let action: 'rotation' | 'reset';
    let encoded: string;
    if (rest.endsWith('/rotation')) {
      action = 'rotation';
      encoded = rest.slice(0, -'/rotation'.length);
    } else if (rest.endsWith('/breaker/reset')) {
      action = 'reset';
      encoded = rest.slice(0, -'/breaker/reset'.length);
    } else {
      throw new GatewayError('not_found', `Unknown endpoint: POST ${context.url.pathname.slice(0, 256)}`);
    }
    const model = decodeSegment(encoded, 'model');
    const who = { model, keyId: context.clientKeyId ?? null, operator: true };
    if (action === 'rotation') {
      const inRotation = body.in_rotation;
      if (typeof inRotation !== 'boolean') {
        throw new GatewayError('invalid_request', 'in_rotation must be true or false', {
          param: 'in_rotation',
        });
      }
      if (!(await gateway.setInRotation(model, inRotation))) throw unknownModel(model);
      gateway.logger.warn(
        { ...who, inRotation },
        inRotation ? 'operator put a model back in rotation' : 'operator took a model out of rotation',
      );
    } else {
      if (!gateway.resetBreaker(model)) throw unknownModel(model);
      gateway.logger.warn(who, 'operator reset a breaker');
    }
    sendJson(response, 200, stateOf(model), noStore);
  }

  return {
    routes: {
      'GET /dashboard/api/requests': (_request, response, context) => {
        const requestLog = log();
        requestLog.flush(); // what was already answered is visible at once
        const page = requestLog.query(parseRequestQuery(context.url.searchParams));
        sendJson(response, 200, { data: page.data.map(listRow), next_cursor: page.next_cursor }, noStore);
      },
      'GET /dashboard/api/models': (_request, response) => {
        const models = gateway.modelStatus().map(
          (status): ModelControlState => ({
            model: status.model,
            in_rotation: status.inRotation,
            breaker: status.breaker,
          }),
        );
        sendJson(response, 200, { data: models }, noStore);
      },
      'POST /dashboard/api/models/*': control,
    },
    requestDetail(response, encodedId) {
      const requestLog = log();
      const id = decodeSegment(encodedId, 'id');
      const row = requestLog.get(id);
      if (!row) {
        throw new GatewayError(
          'not_found',
          `No request "${id.slice(0, 128)}" in the request log (unknown, or older than its retention).`,
        );
      }
      sendJson(response, 200, row, noStore);
    },
  };
}

/** The list leaves out what only the detail view shows (content can be large). */
function listRow(row: RequestRow): Omit<RequestRow, 'content' | 'decision' | 'usage'> & { logged: boolean } {
  const { content, decision: _decision, usage: _usage, ...rest } = row;
  return { ...rest, logged: content !== null };
}

/**
 * A state-changing request must come from this gateway's own page: declared JSON, and when a
 * browser says where it came from (`Origin`, `Sec-Fetch-Site`), from this very origin.
 */
export function refuseCrossSite(request: IncomingMessage): void {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new GatewayError(
      'unsupported_media_type',
      'Send the control as JSON with "Content-Type: application/json".',
    );
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new GatewayError('forbidden', 'Cross-site requests to the console controls are refused.');
  }
  const origin = request.headers.origin;
  if (origin === undefined) return; // not a browser, or a same-origin GET; the key or cookie still applies
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    originHost = undefined;
  }
  if (originHost === undefined || originHost !== (request.headers.host ?? '').toLowerCase()) {
    throw new GatewayError('forbidden', 'Cross-origin requests to the console controls are refused.');
  }
}

async function readControlBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(request, controlBodyLimit);
  if (raw.length === 0) return {};
  const body = parseJson(raw);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'The body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

function decodeSegment(encoded: string, param: string): string {
  let value: string;
  try {
    value = decodeURIComponent(encoded);
  } catch {
    throw new GatewayError('invalid_request', `${param} is not validly percent-encoded`, { param });
  }
  if (value.length === 0 || value.length > 256) {
    throw new GatewayError('invalid_request', `${param} must be 1 to 256 characters`, { param });
  }
  return value;
}

function unknownModel(model: string): GatewayError {
  return new GatewayError('model_not_found', `"${model.slice(0, 256)}" is not a configured model`, {
    param: 'model',
  });
}
