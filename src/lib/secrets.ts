/**
 * Secret scrubbing: every configured secret (provider keys, upstream header values, client and
 * admin keys) and anything shaped like an API key is replaced by `[redacted]` in a text. Built
 * once from the config; applied where text from outside enters (upstream errors) and before
 * anything is logged or stored.
 */

/** Key-shaped tokens (OpenAI/Anthropic/Groq/xAI `sk-…`, Google `AIza…`, anything after `Bearer`). */
const keyPattern =
  /\b(?:sk|rk|pk|gsk|xai)[-_][A-Za-z0-9_*.-]{6,}|\bAIza[0-9A-Za-z_-]{20,}|(?<=\bBearer\s+)[^\s"',;]+/gi;

/** Values shorter than this are not treated as secrets (a header such as `beta: 1` is not one). */
const minSecretLength = 8;

export type Scrub = (text: string) => string;

/**
 * @example createScrubber(['plainsecret-RAW-ZZZ555'])('Incorrect API key provided: plainsecret-RAW-ZZZ555') // 'Incorrect API key provided: [redacted]'
 */
export function createScrubber(secrets: Iterable<string | undefined>): Scrub {
  const known = [
    ...new Set(
      [...secrets].filter((secret): secret is string => !!secret && secret.length >= minSecretLength),
    ),
  ]
    // Longest first, so a secret that contains another is removed whole.
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    return out.replace(keyPattern, '[redacted]');
  };
}

/** Shorten a client-supplied or echoed string before it is logged or stored. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
