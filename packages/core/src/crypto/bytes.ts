/**
 * @module crypto/bytes
 * Byte helpers shared by the crypto and format modules.
 */
import { base64urlnopad } from '@scure/base';
import { bytesToHex as nobleBytesToHex, hexToBytes as nobleHexToBytes } from '@noble/hashes/utils.js';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export const utf8 = (s: string): Uint8Array => utf8Encoder.encode(s);

/** Strict UTF-8 decoding (throws on malformed input). */
export const fromUtf8 = (b: Uint8Array): string => utf8Decoder.decode(b);

/** Lowercase hex of bytes (@noble's: table-driven; @scure/base's chain of coders cost ~1 ms on a bootstrap's first chunk). */
export const bytesToHex = (b: Uint8Array): string => nobleBytesToHex(b);
/** Bytes of a hex string (any case); throws on anything else. */
export const hexToBytes = (s: string): Uint8Array => nobleHexToBytes(s);
/** Unpadded base64url, used where binary sits inside JSON. */
export const toBase64url = (b: Uint8Array): string => base64urlnopad.encode(b);
export const fromBase64url = (s: string): Uint8Array => base64urlnopad.decode(s);

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  return concatInto(parts, (n) => new Uint8Array(n));
}

/** `parts` one after another in a buffer of their total length from `alloc` (e.g. a pool's). */
export function concatInto(parts: readonly Uint8Array[], alloc: (n: number) => Uint8Array): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = alloc(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Constant-shape equality (not secret-safe timing; use for public values). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Big-endian u32. */
export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Big-endian u64 from a safe integer. */
export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** WebCrypto wants a BufferSource backed by a plain ArrayBuffer. */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}
