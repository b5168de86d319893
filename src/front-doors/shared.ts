/**
 * Small pieces both front doors use: a nesting-depth bound for request bodies, SSE framing, and
 * tool-argument parsing.
 */

/**
 * Deepest nesting a request body may have (objects and arrays, counted from the body itself).
 * Real bodies stay far below it (a message block holding a tool input holding a JSON schema is
 * about 20 levels); anything deeper is refused before a recursive walk (ours, JSON.stringify's, an
 * upstream's) can overflow a stack.
 */
export const maxBodyDepth = 128;

/**
 * Where `value` first nests deeper than `limit`, as a path (`tools.0.input_schema.properties...`,
 * cut after a few segments), or undefined if it never does. Iterative, so a body nested 100,000
 * deep is measured, not overflowed.
 *
 * @example firstTooDeep(JSON.parse('[[[1]]]'), 2) // '0.0'
 */
export function firstTooDeep(value: unknown, limit: number = maxBodyDepth): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: DepthEntry[] = [{ node: value, depth: 1, key: '', parent: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { node, depth } = entry;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child === null || typeof child !== 'object') continue;
        const next = { node: child, depth: depth + 1, key: String(i), parent: entry };
        if (next.depth > limit) return pathOf(next);
        stack.push(next);
      }
    } else {
      for (const key in node) {
        const child: unknown = (node as Record<string, unknown>)[key];
        if (child === null || typeof child !== 'object') continue;
        const next = { node: child, depth: depth + 1, key, parent: entry };
        if (next.depth > limit) return pathOf(next);
        stack.push(next);
      }
    }
  }
  return undefined;
}

interface DepthEntry {
  node: object;
  depth: number;
  key: string;
  parent: DepthEntry | undefined;
}

function pathOf(entry: DepthEntry): string {
  const keys: string[] = [];
  for (let current: DepthEntry | undefined = entry; current?.parent; current = current.parent) {
    keys.push(current.key);
  }
  keys.reverse();
  return keys.length > 6 ? `${keys.slice(0, 6).join('.')}...` : keys.join('.');
}

/** One server-sent event: `event: <name>` and one `data:` line (JSON never holds a raw newline). */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

/**
 * Tool-call arguments as an object. Models sometimes emit invalid JSON; it is kept as
 * `{"_raw_arguments": "..."}` (the shape the Anthropic converter uses the other way) rather than lost.
 */
export function parseToolArguments(raw: string | undefined): Record<string, unknown> {
  if (!raw?.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    return { value: parsed };
  } catch {
    return { _raw_arguments: raw };
  }
}

/** The inverse of {@link parseToolArguments}: `{"_raw_arguments": s}` gives `s` back unchanged. */
export function stringifyToolInput(input: unknown): string {
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const keys = Object.keys(input);
    const raw = (input as { _raw_arguments?: unknown })._raw_arguments;
    if (keys.length === 1 && typeof raw === 'string') return raw;
  }
  return JSON.stringify(input ?? {});
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
