/**
 * The server secret keys are hashed with (HMAC-SHA-256), and where it comes from:
 * `server.key_secret` when set; else, for a fleet, the shared store (the first instance writes one
 * with set-if-absent, every other instance reads that one, so all hash alike); else a 0600 file
 * `key-secret` beside the request-log database, generated once; in memory when the database is.
 * A hash is useless without the secret, so a leaked database alone reveals no usable key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';

export type SecretSource = 'config' | 'store' | 'file' | 'memory';

export interface SecretOptions {
  configured?: string;
  /** State shared by a fleet (Redis): the secret lives in the store. */
  shared: boolean;
  store: Store;
  /** Folder of the local databases; undefined when they are in memory. */
  folder: string | undefined;
}

export const secretFileName = 'key-secret';

export async function resolveKeySecret(
  options: SecretOptions,
): Promise<{ secret: Buffer; source: SecretSource }> {
  if (options.configured) return { secret: Buffer.from(options.configured, 'utf8'), source: 'config' };
  const fresh = randomBytes(32).toString('hex');
  if (options.shared) {
    await options.store.set(stateKeys.keySecret(), fresh, { onlyIfAbsent: true });
    const stored = await options.store.get(stateKeys.keySecret());
    return { secret: Buffer.from(stored ?? fresh, 'hex'), source: 'store' };
  }
  if (options.folder === undefined) return { secret: Buffer.from(fresh, 'hex'), source: 'memory' };
  mkdirSync(options.folder, { recursive: true, mode: 0o700 });
  const path = join(options.folder, secretFileName);
  try {
    writeFileSync(path, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(path, 0o600);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path}: not a key secret (expected 64 hex digits)`);
  return { secret: Buffer.from(text, 'hex'), source: 'file' };
}

/** Hashes and checks keys with the server secret. */
export class KeyHasher {
  constructor(private readonly secret: Buffer) {}

  /** HMAC-SHA-256 of the key, hex. */
  hash(key: string): string {
    return createHmac('sha256', this.secret).update(key).digest('hex');
  }

  /** Whether `key` hashes to `hash`, compared in constant time (both are 32-byte digests). */
  matches(key: string, hash: string): boolean {
    const expected = Buffer.from(hash, 'hex');
    const actual = createHmac('sha256', this.secret).update(key).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  /** A stable id for a static key (`server.api_keys`, the admin key): a prefix of its keyed hash. */
  idOf(key: string): string {
    return `key_${this.hash(key).slice(0, 16)}`;
  }
}
