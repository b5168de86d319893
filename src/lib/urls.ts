/**
 * Which URLs a client may ask an upstream to fetch on its behalf (an image or file by URL): only
 * http(s) on a public host. `file:`, `gopher:` and the like, and loopback, link-local and private
 * addresses (cloud metadata endpoints among them), are refused before anything is sent.
 */
import { isIP } from 'node:net';

/** Why the URL may not be fetched, or undefined when it may. `extraSchemes`: e.g. `gs:` for Gemini. */
export function unfetchableReason(url: string, extraSchemes: readonly string[] = []): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  const scheme = parsed.protocol;
  if (extraSchemes.includes(scheme)) return undefined;
  if (scheme !== 'https:' && scheme !== 'http:')
    return `uses ${scheme.replace(/:$/, '')}: (only http and https URLs, or data: URLs, are accepted)`;
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local'))
    return 'points at a local host';
  if (isIP(host) && isPrivateAddress(host)) return 'points at a loopback, link-local or private address';
  return undefined;
}

function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 4) {
    const [a, b] = address.split('.').map(Number) as [number, number];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const lower = address.toLowerCase();
  if (lower === '::1' || lower === '::') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return isPrivateAddress(mapped[1]!);
  return /^fe[89ab]/.test(lower) || /^f[cd]/.test(lower);
}
