/** The shape of a route: an exact `METHOD /path` key and a handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessGrant } from '../gateway/types.ts';

export interface RequestContext {
  url: RequestUrl;
  /** An id for the client key that authorised the request (never the key). */
  clientKeyId: string | undefined;
  /** What the client's key allows (a virtual key's models, limits and budget). */
  access?: AccessGrant;
}

/** The parts of a request's URL that routes read: what `new URL` would give for them. */
export interface RequestUrl {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/**
 * A path the URL parser returns unchanged: characters it never escapes, no percent escapes (an
 * escaped dot can be a dot segment) and no backslashes (a slash to it). Dot segments and a
 * leading `//` (an authority to the parser) are ruled out by the caller. Every other path goes
 * through the parser.
 */
const plainPath = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const base = 'http://gateway';

/**
 * The request's URL without `new URL` in the common case: that parse cost several µs of every
 * request (issue 14). The query is parsed only when a route reads it.
 * @example requestUrl('/v1/chat/completions?x=1').pathname // '/v1/chat/completions'
 */
export function requestUrl(raw: string): RequestUrl {
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  if (!plainPath.test(path) || path.includes('/.') || path.startsWith('//')) return parsedUrl(raw, path);
  return new PlainUrl(path, raw);
}

/** A class, not an object literal with a getter: that literal cost more than the parse it saves. */
class PlainUrl implements RequestUrl {
  private params: URLSearchParams | undefined;
  constructor(
    readonly pathname: string,
    private readonly raw: string,
  ) {}

  get searchParams(): URLSearchParams {
    this.params ??= parsedUrl(this.raw, this.pathname).searchParams;
    return this.params;
  }
}

/**
 * The parser's reading, or, for a target it rejects (`//`, `//a b`: an authority with no valid
 * host), the raw path with no parameters, which no route matches: a 404, never a thrown error
 * (a rejected URL used to end the process).
 */
function parsedUrl(raw: string, path: string): RequestUrl {
  try {
    return new URL(raw, base);
  } catch {
    return { pathname: path, searchParams: new URLSearchParams() };
  }
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
