/**
 * Bounding nesting: a JSON value nested thousands deep would overflow the stack of every
 * recursive converter (and of JSON.stringify). An iterative walk finds the first value deeper
 * than allowed, so the request is refused with a 400 naming its path instead.
 */

/**
 * How a path is written: `bracket` as OpenAI names params (`tools[0].function`), `dot` as
 * Anthropic does (`tools.0.input_schema`).
 */
export type PathStyle = 'bracket' | 'dot';

/** A path is cut after this many keys (`a.b.c.d.e.f...`): it only has to say where to look. */
const shownKeys = 6;

/**
 * The path of the first value nested more than `maxDepth` levels deep (the value itself is level
 * 0), or undefined. Iterative, so a body nested 100,000 deep is measured, not overflowed.
 * @example tooDeep(JSON.parse('[[[1]]]'), 2, 'dot') // '0.0'
 */
export function tooDeep(value: unknown, maxDepth: number, style: PathStyle = 'bracket'): string | undefined {
  // The common case pays for a depth count only; the path is built once something is too deep.
  if (!exceeds(value, maxDepth, undefined)) return undefined;
  return exceeds(value, maxDepth, style) || '(root)';
}

function exceeds(value: unknown, maxDepth: number, style: PathStyle | undefined): string | false {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const paths: string[][] = [[]];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    const path = style ? paths.pop()! : [];
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return style ? render(path, style) : 'deep';
    const isArray = Array.isArray(current);
    const keys = isArray ? undefined : Object.keys(current);
    const count = isArray ? current.length : keys!.length;
    for (let i = count - 1; i >= 0; i--) {
      const key = isArray ? String(i) : keys![i]!;
      const item = isArray ? current[i] : (current as Record<string, unknown>)[key];
      if (item === null || typeof item !== 'object') continue;
      values.push(item);
      depths.push(depth + 1);
      // Paths are kept only up to what is shown (a 10,000-deep path would cost 10,000 keys a level).
      if (style) paths.push(path.length < shownKeys + 1 ? [...path, isArray ? `[${i}]` : key] : path);
    }
  }
  return false;
}

function render(keys: readonly string[], style: PathStyle): string {
  const shown = keys.slice(0, shownKeys);
  let text = '';
  for (const key of shown) {
    const index = key.startsWith('[');
    if (style === 'bracket') text += index ? key : text ? `.${key}` : key;
    else text += (text ? '.' : '') + (index ? key.slice(1, -1) : key);
  }
  return keys.length > shownKeys ? `${text}...` : text;
}
