/**
 * @module crypto/node-crypto
 * AES-256-GCM and HMAC-SHA256 through node:crypto where the platform has
 * it (reached through `process.getBuiltinModule`, so browser bundles never
 * see it; browsers keep WebCrypto). On Node, WebCrypto copies every input
 * into a thread-pool job and every output back, and splits the GCM tag off
 * with one more copy: for blob chunks those copies, the job dispatch and
 * the garbage they left were a large share of the main thread's time, the
 * bottleneck of a fetch. node:crypto runs the same OpenSSL code in place,
 * synchronously (a 1 MiB chunk in about a millisecond).
 */
import { toBase64url } from './bytes.js';

/** What this module needs of a node:crypto cipher or decipher. */
interface NodeGcm {
  setAAD(aad: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  getAuthTag(): Uint8Array;
  setAuthTag(tag: Uint8Array): unknown;
}

/** What this module needs of node:crypto. */
interface NodeCrypto {
  createHmac(algorithm: 'sha256', key: Uint8Array): { update(data: Uint8Array): { digest(): Uint8Array } };
  createCipheriv(algorithm: 'aes-256-gcm', key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): NodeGcm;
  createDecipheriv(algorithm: 'aes-256-gcm', key: Uint8Array, iv: Uint8Array, options: { authTagLength: number }): NodeGcm;
  hkdfSync(digest: 'sha256', ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): ArrayBuffer;
  createPrivateKey(o: { key: OkpJwk; format: 'jwk' }): NodeKeyObject;
  createPublicKey(o: { key: OkpJwk; format: 'jwk' }): NodeKeyObject;
  sign(algorithm: null, data: Uint8Array, key: NodeKeyObject): Uint8Array;
  verify(algorithm: null, data: Uint8Array, key: NodeKeyObject, signature: Uint8Array): boolean;
}

/** An Ed25519 key as a JWK (RFC 8037): `x` the public key, `d` the seed, base64url. */
interface OkpJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly d?: string;
}

/** A node:crypto KeyObject, opaque here. */
export type NodeKeyObject = { readonly type: string };

export const GCM_TAG_BYTES = 16;

/** node:crypto where the platform has it (Node ≥ 20.16), else undefined (browsers). */
const nodeCrypto = ((globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') ?? undefined) as
  NodeCrypto | undefined;

/**
 * A plain Uint8Array of the bytes: Node returns Buffers, and small ones
 * are views into a shared 8 KiB pool, which callers must not see as theirs.
 */
const owned = (b: Uint8Array): Uint8Array =>
  b.byteOffset === 0 && b.buffer.byteLength === b.length ? new Uint8Array(b.buffer, 0, b.length) : Uint8Array.prototype.slice.call(b);

/** AES-256-GCM on node:crypto, byte for byte what WebCrypto gives; undefined where node:crypto is not available. */
export const nodeAesGcm = nodeCrypto
  ? {
      /** `prefix` ‖ ciphertext ‖ 16-byte tag, in one buffer (the prefix spares the caller a copy of the whole). */
      encrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, prefix: Uint8Array = new Uint8Array(0)): Uint8Array {
        const c = nodeCrypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
        c.setAAD(aad);
        const out = new Uint8Array(prefix.length + plaintext.length + GCM_TAG_BYTES);
        out.set(prefix);
        out.set(c.update(plaintext), prefix.length);
        const rest = c.final(); // empty for GCM, a stream mode
        out.set(rest, prefix.length + plaintext.length);
        out.set(c.getAuthTag(), prefix.length + plaintext.length + rest.length);
        return out;
      },
      /** The plaintext; throws (a node:crypto error) on a wrong key, nonce, AAD or tag, or input shorter than a tag. */
      decrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
        if (ciphertext.length < GCM_TAG_BYTES) throw new Error('ciphertext shorter than its tag');
        const cut = ciphertext.length - GCM_TAG_BYTES;
        const d = nodeCrypto.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
        d.setAAD(aad);
        d.setAuthTag(ciphertext.subarray(cut));
        const plain = d.update(ciphertext.subarray(0, cut));
        d.final(); // checks the tag: nothing is returned unless it holds
        return owned(plain);
      },
    }
  : undefined;

/** RFC 8410's PKCS#8 prefix of a raw Ed25519 seed, as WebCrypto imports it (the tests compare against it). */
export const PKCS8_ED25519 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);
/** Stands for the public key in a private JWK: node:crypto derives the key pair from `d` alone (RFC 8032 vector checked in the tests). */
const PLACEHOLDER_X = toBase64url(new Uint8Array(32));

/**
 * Ed25519 on node:crypto, synchronously, byte for byte what WebCrypto gives (signatures are deterministic);
 * undefined where node:crypto is not available. WebCrypto's sign and verify are jobs on the thread pool,
 * where a restore's file reads queue before them; a key is imported once (see primitives.ts), as a JWK:
 * node:crypto's DER import took about five times as long (0.65 against 0.14 ms a seed, 0.12 against 0.02 ms
 * a public key), and a restore imports several.
 */
export const nodeEd25519 = nodeCrypto
  ? {
      /** The key of a 32-byte seed. */
      signingKey: (seed: Uint8Array): NodeKeyObject =>
        nodeCrypto.createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: toBase64url(seed), x: PLACEHOLDER_X }, format: 'jwk' }),
      /** The key of a 32-byte public key; throws if it is not one. */
      verifyingKey: (pub: Uint8Array): NodeKeyObject => nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64url(pub) }, format: 'jwk' }),
      sign: (key: NodeKeyObject, message: Uint8Array): Uint8Array => owned(nodeCrypto.sign(null, message, key)),
      verify: (key: NodeKeyObject, message: Uint8Array, sig: Uint8Array): boolean => nodeCrypto.verify(null, message, key, sig),
    }
  : undefined;

/** node:crypto's limit on HKDF's info (longer ones go to @noble). */
const NODE_HKDF_MAX_INFO = 1024;

/**
 * HKDF-SHA256 on node:crypto, or undefined for inputs it does not take (and where node:crypto is not
 * available): @noble's, in JavaScript, took about 70 µs a key, a snapshot chunk's key among them.
 */
export const nodeHkdfSha256 = nodeCrypto
  ? (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array | undefined =>
      info.length > NODE_HKDF_MAX_INFO || length > 255 * 32 ? undefined : new Uint8Array(nodeCrypto.hkdfSync('sha256', ikm, salt, info, length))
  : undefined;

/** HMAC-SHA256 on node:crypto; undefined where node:crypto is not available. */
export const nodeHmacSha256 = nodeCrypto
  ? (key: Uint8Array, data: Uint8Array): Uint8Array => owned(nodeCrypto.createHmac('sha256', key).update(data).digest())
  : undefined;
