/** The shape of a route: an exact `METHOD /path` key and a handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessGrant } from '../gateway/types.ts';

export interface RequestContext {
  url: URL;
  /** An id for the client key that authorised the request (never the key). */
  clientKeyId: string | undefined;
  /** What the client's key allows (a virtual key's models, limits and budget). */
  access?: AccessGrant;
}

/** Who a presented client key is. */
export interface ClientIdentity {
  keyId: string;
  access?: AccessGrant;
}

/** Client keys beyond the static `server.api_keys` (the virtual keys). */
export interface Authenticator {
  /** Whether the API needs a key at all (some virtual key exists). */
  required(): boolean;
  /** The identity of a presented key; undefined when it is unknown, revoked or expired. */
  identify(key: string): Promise<ClientIdentity | undefined>;
  /** A stable id for a static key (the keyed hash, never the key). */
  idOf(key: string): string;
}

/** Writes an error in a front door's own shape (the Messages API's, say). */
export type ErrorWriter = (response: ServerResponse, error: unknown) => void;

export type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext,
) => Promise<void> | void;

export interface RouteTable {
  [methodAndPath: string]: Handler;
}
