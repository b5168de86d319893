/**
 * The shape of a virtual key: `sk-sy-<public id>_<secret>`. The public id (12 lowercase letters
 * and digits) names the key's record, so a lookup reads one record instead of hashing against
 * every key; the secret is 32 random bytes in base62 (43 characters). Only the public id is ever
 * shown again after creation.
 *
 * @example
 * const { id, key } = newKey(); // id 'k3x9q0m2w7ab', key 'sk-sy-k3x9q0m2w7ab_6Vn…'
 * parseKey(key)?.id === id;     // true
 */
import { randomBytes } from 'node:crypto';

export const keyPrefix = 'sk-sy-';
const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const idLength = 12;
const secretBytes = 32;
/** 62^43 > 2^256: every 32-byte secret fits in 43 characters. */
const secretLength = 43;
const keyShape = new RegExp(`^${keyPrefix}([a-z0-9]{${idLength}})_([0-9A-Za-z]{${secretLength}})$`);
const idShape = new RegExp(`^[a-z0-9]{${idLength}}$`);

/** A fresh public id: 12 characters of [a-z0-9] (62 bits), drawn without modulo bias. */
export function newKeyId(): string {
  let id = '';
  while (id.length < idLength) {
    for (const byte of randomBytes(idLength * 2)) {
      // 252 = 7 * 36: bytes above it would favour the first letters.
      if (byte < 252 && id.length < idLength) id += idAlphabet[byte % 36];
    }
  }
  return id;
}

/** Bytes as a fixed-width base62 string. */
export function toBase62(bytes: Buffer, width: number): string {
  let value = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let text = '';
  while (value > 0n) {
    text = base62[Number(value % 62n)] + text;
    value /= 62n;
  }
  return text.padStart(width, '0');
}

export function newKey(): { id: string; key: string } {
  const id = newKeyId();
  return { id, key: `${keyPrefix}${id}_${toBase62(randomBytes(secretBytes), secretLength)}` };
}

/** The public id of a well-formed key; undefined for anything else (never looked up). */
export function parseKey(key: string): { id: string } | undefined {
  const match = keyShape.exec(key);
  return match ? { id: match[1]! } : undefined;
}

export function isKeyId(value: string): boolean {
  return idShape.test(value);
}
