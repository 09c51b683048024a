/**
 * @module crypto/native-curves
 * X25519 and Ed25519 public-key arithmetic through the platform's own
 * OpenSSL where it is reachable synchronously: Node's `node:crypto`,
 * through `process.getBuiltinModule` (so browser bundles never see it;
 * WebCrypto has the same curves but only async, and the callers are sync).
 * About a tenth of @noble/curves' CPU per operation, and a restore makes a
 * dozen of them. Keys go in as JWK: Node's DER (PKCS#8) import costs as much
 * as the pure-JS arithmetic. A private JWK needs an `x` member, which Node
 * derives again from `d` rather than trusting; the module checks that (and
 * every result) against the RFC test vectors before it is used, and the
 * caller falls back to @noble/curves without it.
 */
import { bytesEqual, fromBase64url, hexToBytes, toBase64url } from './bytes.js';

/** The curve operations {@link curves.ts} needs, each on raw 32-byte keys. */
export interface CurveOps {
  /** The Ed25519 public key of a 32-byte seed. */
  edPub(seed: Uint8Array): Uint8Array;
  /** The X25519 public key of a 32-byte secret. */
  xPub(secret: Uint8Array): Uint8Array;
  /** X25519 shared secret; throws on a malformed key or an all-zero result (a low-order point). */
  xShared(secret: Uint8Array, pub: Uint8Array): Uint8Array;
}

/** What this module uses of node:crypto. */
interface NodeKeys {
  createPrivateKey(o: { key: object; format: 'jwk' }): unknown;
  createPublicKey(o: unknown): { export(o: { format: 'jwk' }): { x?: string } };
  diffieHellman(o: { privateKey: unknown; publicKey: unknown }): Uint8Array;
}

/** Stands for the public key in a private JWK: Node reads `d` and derives the public key itself (checked below). */
const PLACEHOLDER_X = toBase64url(new Uint8Array(32));

/** RFC 7748 §6.1 (X25519) and RFC 8032 §7.1 test 1 (Ed25519). */
function passesVectors(ops: CurveOps): boolean {
  const alice = hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPub = hexToBytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  return (
    bytesEqual(ops.xPub(alice), hexToBytes('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')) &&
    bytesEqual(ops.xShared(alice, bobPub), hexToBytes('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')) &&
    bytesEqual(
      ops.edPub(hexToBytes('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')),
      hexToBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
    )
  );
}

/** Where node:crypto is reached: `process` on Node (≥ 20.16). */
export interface Platform {
  getBuiltinModule?: (id: string) => unknown;
}

/** `node:crypto`'s curves as {@link CurveOps}. */
function nodeOps(keys: NodeKeys): CurveOps {
  const priv = (crv: 'X25519' | 'Ed25519', d: Uint8Array): unknown => {
    if (d.length !== 32) throw new Error(`${crv} private key must be 32 bytes`);
    return keys.createPrivateKey({ key: { kty: 'OKP', crv, d: toBase64url(d), x: PLACEHOLDER_X }, format: 'jwk' });
  };
  const pubOf = (key: unknown): Uint8Array => {
    const x = keys.createPublicKey(key).export({ format: 'jwk' }).x;
    if (typeof x !== 'string') throw new Error('no public key');
    return fromBase64url(x);
  };
  return {
    edPub: (seed) => pubOf(priv('Ed25519', seed)),
    xPub: (secret) => pubOf(priv('X25519', secret)),
    xShared(secret, pub) {
      if (pub.length !== 32) throw new Error('X25519 public key must be 32 bytes');
      const publicKey = keys.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: toBase64url(pub) }, format: 'jwk' });
      // OpenSSL refuses an all-zero shared secret, as @noble/curves does.
      return new Uint8Array(keys.diffieHellman({ privateKey: priv('X25519', secret), publicKey }));
    },
  };
}

/**
 * The platform's curves, or undefined where there are none to reach
 * synchronously (browsers) or they fail the test vectors. `platform`
 * stands for `globalThis.process` (tests pass others).
 */
export function platformCurves(platform: Platform = (globalThis as { process?: Platform }).process ?? {}): CurveOps | undefined {
  try {
    const keys = platform.getBuiltinModule?.('node:crypto') as NodeKeys | undefined;
    if (!keys || typeof keys.createPrivateKey !== 'function') return undefined;
    const ops = nodeOps(keys);
    return passesVectors(ops) ? ops : undefined;
  } catch {
    return undefined;
  }
}
