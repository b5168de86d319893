/**
 * Tool-call arguments between their two shapes: the JSON text of OpenAI's `function.arguments`
 * and the object of Anthropic's `input` (a provider adapter and the Messages front door both
 * convert them, in opposite directions).
 */

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
