/** The shape of a route: an exact `METHOD /path` key and a handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  url: URL;
  /** An id for the client key that authorised the request (never the key). */
  clientKeyId: string | undefined;
}

export type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext,
) => Promise<void> | void;

export interface RouteTable {
  [methodAndPath: string]: Handler;
}
