/**
 * @module crypto/primitives
 * Thin wrappers over audited primitives: WebCrypto for the hot path
 * (AES-256-GCM, Ed25519, SHA-256; AES-256-GCM, HMAC-SHA256, HKDF and Ed25519 on node:crypto where it
 * exists, see node-crypto.ts), @noble for what WebCrypto lacks or makes
 * async where we need sync (HKDF where node:crypto is not, sync SHA-256). X25519 and public-key
 * derivation are in curves.ts, apart, so that a page which only opens a
 * vault and syncs never loads @noble/curves.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { buf, concatBytes, bytesToHex } from './bytes.js';
import { nodeAesGcm, nodeEd25519, nodeHkdfSha256, nodeHmacSha256, PKCS8_ED25519, type NodeKeyObject } from './node-crypto.js';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** SHA-256 through WebCrypto (fast for large inputs). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', buf(bytes)));
}

/** Synchronous SHA-256 (for small inputs where a sync API matters). */
export const sha256Sync = (bytes: Uint8Array): Uint8Array => nobleSha256(bytes);

/** HKDF-SHA256 (RFC 5869): on node:crypto where it exists and takes the inputs, else @noble. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return nodeHkdfSha256?.(ikm, salt, info, length) ?? hkdf(nobleSha256, ikm, salt, info, length);
}

function checkAesKey(key: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new KithError(ErrorCode.Internal, 'AES-256-GCM needs a 32-byte key');
  return key;
}

async function aesKey(key: Uint8Array, use: KeyUsage): Promise<CryptoKey> {
  return subtle().importKey('raw', buf(checkAesKey(key)), 'AES-GCM', false, [use]);
}

/** HMAC-SHA256 under `key`: a function that signs, the key imported once. */
export function hmacSha256With(key: Uint8Array): (data: Uint8Array) => Promise<Uint8Array> {
  if (nodeHmacSha256) {
    const k = key.slice(); // the caller may reuse its buffer
    return async (data) => nodeHmacSha256!(k, data);
  }
  const k = subtle().importKey('raw', buf(key.slice()), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return async (data) => new Uint8Array(await subtle().sign('HMAC', await k, buf(data)));
}

/** AES-256-GCM encryption; returns `prefix` (default none) ‖ ciphertext ‖ 16-byte tag. */
export async function aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, prefix?: Uint8Array): Promise<Uint8Array> {
  if (nodeAesGcm) return nodeAesGcm.encrypt(checkAesKey(key), nonce, plaintext, aad, prefix);
  const k = await aesKey(key, 'encrypt');
  const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, k, buf(plaintext)));
  return prefix ? concatBytes(prefix, sealed) : sealed;
}

/** AES-256-GCM decryption; a wrong key, nonce, AAD or any flipped bit → KITH_INTEGRITY_CORRUPT. */
export async function aesGcmDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  if (nodeAesGcm) {
    checkAesKey(key);
    return decrypting(() => nodeAesGcm!.decrypt(key, nonce, ciphertext, aad));
  }
  const k = await aesKey(key, 'decrypt');
  return decrypting(
    async () => new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, k, buf(ciphertext))),
  );
}

/** The plaintext `open` gives, any failure of it as KITH_INTEGRITY_CORRUPT. */
async function decrypting(open: () => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    return await open();
  } catch (cause) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'decryption failed: the object was altered or encrypted under another key', { cause });
  }
}

/** An Ed25519 key pair held as its 32-byte seed. */
export interface SigningKeyPair {
  readonly seed: Uint8Array;
  readonly pub: Uint8Array;
}

/** An X25519 key pair. */
export interface BoxKeyPair {
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
}

// Imported keys are cached: pulls verify many objects from few devices.
const signKeys = new Map<string, Promise<CryptoKey>>();
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const nodeSignKeys = new Map<string, NodeKeyObject>();
const nodeVerifyKeys = new Map<string, NodeKeyObject>();
const CACHE_LIMIT = 256;

function cached<K>(cache: Map<string, K>, id: string, make: () => K): K {
  let k = cache.get(id);
  if (!k) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    k = make();
    cache.set(id, k);
  }
  return k;
}

/** Ed25519 signature (64 bytes) with a seed. */
export async function ed25519Sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  if (seed.length !== 32) throw new KithError(ErrorCode.Internal, 'Ed25519 seed must be 32 bytes');
  if (nodeEd25519)
    return nodeEd25519.sign(
      cached(nodeSignKeys, bytesToHex(seed), () => nodeEd25519!.signingKey(seed)),
      message,
    );
  const key = await cached(signKeys, bytesToHex(seed), () =>
    subtle().importKey('pkcs8', buf(concatBytes(PKCS8_ED25519, seed)), { name: 'Ed25519' }, false, ['sign']),
  );
  return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, key, buf(message)));
}

/** Ed25519 verification; false for any malformed key or signature. */
export async function ed25519Verify(pub: Uint8Array, message: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (pub.length !== 32 || sig.length !== 64) return false;
  if (nodeEd25519) {
    try {
      return nodeEd25519.verify(
        cached(nodeVerifyKeys, bytesToHex(pub), () => nodeEd25519!.verifyingKey(pub)),
        message,
        sig,
      );
    } catch {
      nodeVerifyKeys.delete(bytesToHex(pub));
      return false;
    }
  }
  try {
    const key = await cached(verifyKeys, bytesToHex(pub), () => subtle().importKey('raw', buf(pub), { name: 'Ed25519' }, false, ['verify']));
    return await subtle().verify({ name: 'Ed25519' }, key, buf(sig), buf(message));
  } catch {
    verifyKeys.delete(bytesToHex(pub));
    return false;
  }
}
