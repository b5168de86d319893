/**
 * Small pieces both front doors use: a nesting-depth bound for request bodies, SSE framing, and
 * tool-argument parsing.
 */
import { tooDeep } from '../lib/depth.ts';

/**
 * Deepest nesting a request body may have (objects and arrays, counted from the body itself).
 * Real bodies stay far below it (a message block holding a tool input holding a JSON schema is
 * about 20 levels); anything deeper is refused before a recursive walk (ours, JSON.stringify's, an
 * upstream's) can overflow a stack.
 */
export const maxBodyDepth = 128;

/**
 * Where `value` first nests deeper than `limit`, as Anthropic writes paths
 * (`tools.0.input_schema.properties...`, cut after a few keys), or undefined if it never does.
 * @example firstTooDeep(JSON.parse('[[[1]]]'), 2) // '0.0'
 */
export function firstTooDeep(value: unknown, limit: number = maxBodyDepth): string | undefined {
  return tooDeep(value, limit, 'dot');
}

/** One server-sent event: `event: <name>` and one `data:` line (JSON never holds a raw newline). */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

export { parseToolArguments, stringifyToolInput } from '../lib/tool-arguments.ts';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
