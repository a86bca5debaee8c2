/**
 * Constant-time checks shared by the sources: HMAC signatures in hex and static tokens.
 *
 * What callers may assume:
 * - Every function answers true or false and never throws on hostile input (a missing header,
 *   odd-length or non-hex text, a different length): they all simply answer false.
 * - Comparisons take time that depends only on the lengths of the expected values, never on
 *   where the first differing byte is: equal-length buffers go through `timingSafeEqual`, and
 *   tokens are compared through their SHA-256 digests so their lengths do not leak either.
 * - Nothing here logs or keeps a secret.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type HmacAlgorithm = 'sha256' | 'sha1';

const HEX_LENGTH: Readonly<Record<HmacAlgorithm, number>> = { sha256: 64, sha1: 40 };

/** The HMAC of `body` keyed with `secret` (as UTF-8), as raw bytes. */
export function hmacDigest(algorithm: HmacAlgorithm, secret: string, body: Uint8Array): Buffer {
  return createHmac(algorithm, secret).update(body).digest();
}

/**
 * True when `signature` is exactly the lowercase-or-uppercase hex HMAC of `body`: the right
 * length, only hex digits, and equal in constant time. `undefined` or anything malformed is false.
 */
export function verifyHexHmac(
  algorithm: HmacAlgorithm,
  secret: string,
  body: Uint8Array,
  signature: string | undefined,
): boolean {
  if (signature === undefined) return false;
  const length = HEX_LENGTH[algorithm];
  if (signature.length !== length || !/^[0-9a-fA-F]+$/.test(signature)) return false;
  const given = Buffer.from(signature, 'hex');
  const expected = hmacDigest(algorithm, secret, body);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * True when `header` is `<prefix><hex>` (as in `sha256=<hex>`) and the hex is the HMAC of `body`.
 * The prefix is matched exactly (case-sensitive), the way providers send it.
 */
export function verifyPrefixedHmac(
  algorithm: HmacAlgorithm,
  prefix: string,
  secret: string,
  body: Uint8Array,
  header: string | undefined,
): boolean {
  if (header === undefined || !header.startsWith(prefix)) return false;
  return verifyHexHmac(algorithm, secret, body, header.slice(prefix.length));
}

/** Constant-time equality of two strings of any length (compared through their SHA-256). */
export function safeEqualStrings(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}
