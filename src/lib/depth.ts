/**
 * Bounding nesting: a JSON value nested thousands deep would overflow the stack of every
 * recursive converter (and of JSON.stringify). An iterative walk finds the first value deeper
 * than allowed, so the request is refused with a 400 naming its path instead.
 */

/** The path (e.g. `tools[0].function.parameters`) of the first value deeper than `maxDepth`, or undefined. */
export function tooDeep(value: unknown, maxDepth: number): string | undefined {
  // The common case pays for a depth count only; the path is built once something is too deep.
  if (!exceeds(value, maxDepth, false)) return undefined;
  return exceeds(value, maxDepth, true) || '(root)';
}

function exceeds(value: unknown, maxDepth: number, withPath: boolean): string | false {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const paths: string[] = [''];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    const path = withPath ? paths.pop()! : '';
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return withPath ? path : 'deep';
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) {
        const item = current[i];
        if (item === null || typeof item !== 'object') continue;
        values.push(item);
        depths.push(depth + 1);
        if (withPath) paths.push(`${path}[${i}]`);
      }
    } else {
      for (const key in current) {
        const item = (current as Record<string, unknown>)[key];
        if (item === null || typeof item !== 'object') continue;
        values.push(item);
        depths.push(depth + 1);
        if (withPath) paths.push(path ? `${path}.${key}` : key);
      }
    }
  }
  return false;
}
