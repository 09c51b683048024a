/**
 * @module identity/one-time-code
 * The pieces pairing and space invites share: a one-time code (version,
 * 6-byte id, 11-byte secret, 2-byte check, in Crockford base32), a channel
 * key from it that seals JSON messages on an untrusted remote, and the six
 * digits of a short authentication string. Each protocol names its own
 * version byte and domain, so no message of one opens in the other.
 */
import { base32crockford } from '@scure/base';
import { ErrorCode, KithError } from '../base/errors.js';
import { aesGcmDecrypt, aesGcmEncrypt, bytesEqual, bytesToHex, concatBytes, hexToBytes, hkdfSha256, sha256Sync, utf8 } from '../crypto/index.js';

const ID_BYTES = 6;
const SECRET_BYTES = 11;
const CHECK_BYTES = 2;

export interface OneTimeCode {
  /** 12 hex: where the messages live. */
  readonly id: string;
  readonly secret: Uint8Array;
}

/** A protocol's constants: its code's version byte and its domain (`kith/v1/pairing`, `kith/v1/invite`). */
export interface CodeProtocol {
  readonly version: number;
  readonly domain: string;
}

const check = (p: CodeProtocol, body: Uint8Array): Uint8Array => sha256Sync(concatBytes(utf8(`${p.domain}-check`), body)).subarray(0, CHECK_BYTES);

/** A fresh code: 32 Crockford base32 characters in 8 groups of 4. */
export function generateCode(p: CodeProtocol, random: (n: number) => Uint8Array): OneTimeCode & { code: string } {
  const id = random(ID_BYTES);
  const secret = random(SECRET_BYTES);
  const body = concatBytes(Uint8Array.of(p.version), id, secret);
  const code = base32crockford
    .encode(concatBytes(body, check(p, body)))
    .match(/.{4}/g)!
    .join('-');
  return { code, id: bytesToHex(id), secret };
}

/**
 * Parses a code (case, spaces, dashes and Crockford aliases forgiven).
 * `bad(why)` makes the error for a mistyped code; `otherVersion(v)` may
 * make a more helpful one for a code of another kind (return undefined for
 * the generic one).
 */
export function parseCode(p: CodeProtocol, text: string, bad: (why: string) => KithError, otherVersion: (v: number) => KithError | undefined): OneTimeCode {
  const clean = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (clean.length !== 32) throw bad(`${clean.length} characters instead of 32`);
  if (!/^[0-9A-HJKMNP-TV-Z]+$/.test(clean)) throw bad('it contains a character that is not in the alphabet');
  const raw = base32crockford.decode(clean);
  if (raw[0] !== p.version) throw otherVersion(raw[0]!) ?? bad(`unknown version ${raw[0]}`);
  const body = raw.subarray(0, 1 + ID_BYTES + SECRET_BYTES);
  if (!bytesEqual(raw.subarray(body.length), check(p, body))) throw bad('checksum mismatch');
  return { id: bytesToHex(body.subarray(1, 1 + ID_BYTES)), secret: body.slice(1 + ID_BYTES) };
}

const channelKey = (p: CodeProtocol, c: OneTimeCode): Uint8Array => hkdfSha256(c.secret, hexToBytes(c.id), utf8(p.domain), 32);
const aadOf = (p: CodeProtocol, c: OneTimeCode, message: string): Uint8Array => concatBytes(utf8(`${p.domain}/${message}`), hexToBytes(c.id));

/** nonce 12 ‖ AES-256-GCM(channel key, nonce, UTF-8 JSON, AAD = domain/message ‖ id). */
export async function sealMessage(p: CodeProtocol, c: OneTimeCode, message: string, body: object, random: (n: number) => Uint8Array): Promise<Uint8Array> {
  const nonce = random(12);
  return concatBytes(nonce, await aesGcmEncrypt(channelKey(p, c), nonce, utf8(JSON.stringify(body)), aadOf(p, c, message)));
}

/** Opens a sealed message; an altered one (or a wrong secret) fails with KITH_INTEGRITY_CORRUPT. */
export async function openMessage<T>(p: CodeProtocol, c: OneTimeCode, message: string, bytes: Uint8Array, hint: string): Promise<T> {
  let plain: Uint8Array;
  try {
    plain = await aesGcmDecrypt(channelKey(p, c), bytes.subarray(0, 12), bytes.subarray(12), aadOf(p, c, message));
  } catch (cause) {
    throw new KithError(ErrorCode.IntegrityCorrupt, `the ${p.domain.slice('kith/v1/'.length)} ${message} message was altered on the remote`, { cause, hint });
  }
  try {
    return JSON.parse(new TextDecoder().decode(plain)) as T;
  } catch (cause) {
    throw new KithError(ErrorCode.IntegrityCorrupt, `the ${p.domain.slice('kith/v1/'.length)} ${message} message is not JSON`, { cause, hint });
  }
}

/** Six digits `ddd ddd` from 4 bytes of HKDF: big-endian u32 mod 10^6. */
export function sasDigits(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): string {
  const b = hkdfSha256(ikm, salt, info, 4);
  const digits = String((((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % 1_000_000).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

/**
 * The user's answer to "do both screens show the same digits?", unless
 * `ms` runs out (rejects with `late()`) or `signal` fires first
 * (KITH_ABORTED with `cancelled`); `ask` is told through its own signal to
 * stop asking.
 */
export async function answerWithin(
  ms: number,
  signal: AbortSignal | undefined,
  ask: (signal: AbortSignal) => Promise<boolean>,
  late: () => KithError,
  cancelled: string,
): Promise<boolean> {
  const stop = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = (): void => undefined;
  try {
    return await Promise.race([
      ask(stop.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(late()), Math.max(0, ms));
        onAbort = () => reject(new KithError(ErrorCode.Aborted, cancelled));
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}
