/**
 * @module pairing
 * Adding a device through the remote, with no network path between the
 * two devices. The inviting device shows a one-time code (where to meet
 * and a secret); the new device posts its public keys under it, encrypted
 * with a key derived from the secret; both show a short authentication
 * string (SAS) derived from an ephemeral key agreement and the whole
 * transcript; the inviter's user compares and confirms, and the inviter
 * signs the newcomer into the registry. See docs/FORMAT.md "Pairing".
 */
import type { Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  boxKeyFromSecret,
  concatBytes,
  ed25519Sign,
  ed25519Verify,
  fromBase64url,
  hexToBytes,
  sha256,
  toBase64url,
  utf8,
  x25519Shared,
  type DeviceKeys,
} from '../crypto/index.js';
import { remoteKeys } from '../format/index.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import { abortableSleep, type Remote } from '../ports/remote.js';
import { answerWithin, generateCode, parseCode, sasDigits, sealMessage, openMessage, type CodeProtocol } from './one-time-code.js';

const PAIRING: CodeProtocol = { version: 2, domain: 'kith/v1/pairing' }; // recovery codes use 1
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_POLL_MS = 500;

export interface PairingCode {
  readonly pairingId: string;
  readonly secret: Uint8Array;
}

/** A fresh one-time pairing code: 32 Crockford base32 characters in 8 groups. */
export function generatePairingCode(random: (n: number) => Uint8Array): PairingCode & { code: string } {
  const { code, id, secret } = generateCode(PAIRING, random);
  return { code, pairingId: id, secret };
}

/** Parses a pairing code (case, spaces, dashes and Crockford aliases forgiven). */
export function parsePairingCode(text: string): PairingCode {
  const bad = (why: string) =>
    new KithError(ErrorCode.BadPairingCode, `the pairing code looks mistyped (${why})`, { hint: 'copy it again from the other device' });
  const recovery = (v: number) =>
    v === 1
      ? new KithError(ErrorCode.BadPairingCode, 'this is a recovery code, not a pairing code', {
          hint: 'restore the vault with it instead of pairing',
          reason: 'recovery-code-given',
        })
      : undefined;
  const { id, secret } = parseCode(PAIRING, text, bad, recovery);
  return { pairingId: id, secret };
}

type Message = 'offer' | 'join' | 'done';

const channel = (c: PairingCode) => ({ id: c.pairingId, secret: c.secret });
const seal = (c: PairingCode, m: Message, body: object, random: (n: number) => Uint8Array): Promise<Uint8Array> =>
  sealMessage(PAIRING, channel(c), m, body, random);
const open = <T>(c: PairingCode, m: Message, bytes: Uint8Array): Promise<T> => openMessage<T>(PAIRING, channel(c), m, bytes, 'start the pairing again');

interface Offer {
  v: 1;
  vaultId: string;
  headerHash: string;
  inviter: string;
  eph: string;
  expiresAt: number;
}

interface Join {
  v: 1;
  deviceId: string;
  name: string;
  signPub: string;
  boxPub: string;
  eph: string;
  sig: string;
}

/** Why the inviter said no; absent in `done` messages of older versions (read as declined). */
type Refusal = 'declined' | 'cancelled' | 'expired';

interface Done {
  v: 1;
  ok: boolean;
  reason?: Refusal;
}

/** What the joiner signs: proof that it holds the signing key it announces, bound to this offer. */
function joinProof(c: PairingCode, offerHash: Uint8Array, j: Omit<Join, 'sig' | 'v'>): Uint8Array {
  return concatBytes(utf8('kith/v1/pairing/join'), hexToBytes(c.pairingId), offerHash, utf8(JSON.stringify([j.deviceId, j.name, j.signPub, j.boxPub, j.eph])));
}

/** Six digits both screens show: from the ephemeral agreement and both messages. */
async function sas(c: PairingCode, shared: Uint8Array, offerBytes: Uint8Array, joinBytes: Uint8Array): Promise<string> {
  return sasDigits(shared, hexToBytes(c.pairingId), concatBytes(utf8('kith/v1/sas'), await sha256(offerBytes), await sha256(joinBytes)));
}

export interface Joiner {
  readonly deviceId: string;
  readonly name: string;
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
}

/** The inviting side. `admit` signs the joiner in once the user confirmed. */
export async function invitePairing(
  remote: Remote,
  vault: { vaultId: string; inviter: string; headerHash: string },
  deps: Deps,
  o: PairOptions,
  admit: (j: Joiner) => Promise<void>,
): Promise<{ deviceId: string; name: string; sas: string }> {
  const c = generatePairingCode(deps.random);
  const eph = boxKeyFromSecret(deps.random(32));
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const expiresAt = deps.now() + timeoutMs;
  const offer: Offer = { v: 1, vaultId: vault.vaultId, headerHash: vault.headerHash, inviter: vault.inviter, eph: toBase64url(eph.pub), expiresAt };
  const offerBytes = await seal(c, 'offer', offer, deps.random);
  const keys = {
    offer: remoteKeys.pairing(c.pairingId, 'offer'),
    join: remoteKeys.pairing(c.pairingId, 'join'),
    done: remoteKeys.pairing(c.pairingId, 'done'),
  };
  await remote.put(keys.offer, offerBytes, { ifAbsent: true });
  const cleanup = async () => {
    await remote.delete(keys.offer).catch(() => undefined);
  };
  let joinBytes: Uint8Array | null = null;
  let answered = false;
  try {
    o.onCode(c.code);
    const started = Date.now();
    while (!(joinBytes = await remote.get(keys.join))) {
      if (Date.now() - started > timeoutMs) throw expired(timeoutMs, 'no device joined');
      await abortableSleep(o.pollMs ?? DEFAULT_POLL_MS, o.signal, 'pairing cancelled');
    }
    await cleanup(); // one use only: nobody else can join with this code now
    const join = await open<Join>(c, 'join', joinBytes);
    const signPub = fromBase64url(join.signPub);
    const proof = joinProof(c, await sha256(offerBytes), join);
    if (!(await ed25519Verify(signPub, proof, fromBase64url(join.sig)))) {
      throw new KithError(ErrorCode.IntegrityCorrupt, 'the joining device did not prove it holds its signing key');
    }
    if (!/^[0-9a-f]{16}$/.test(join.deviceId)) throw new KithError(ErrorCode.IntegrityCorrupt, 'the joining device sent a malformed id');
    const code = await sas(c, x25519Shared(eph.secret, fromBase64url(join.eph)), offerBytes, joinBytes);
    const joiner: Joiner = { deviceId: join.deviceId, name: join.name, signPub, boxPub: fromBase64url(join.boxPub) };
    // The answer is due while the code is valid: the joiner is waiting for it.
    const ok = await answerWithin(
      started + timeoutMs - Date.now(),
      o.signal,
      (signal) => o.confirm({ deviceId: joiner.deviceId, name: joiner.name, sas: code }, { signal }),
      () => expired(timeoutMs, 'no answer came'),
      'pairing cancelled',
    );
    if (!ok) throw new KithError(ErrorCode.PairingDeclined, 'pairing declined: the codes did not match or you said no');
    await admit(joiner);
    answered = true;
    await remote.put(keys.done, await seal(c, 'done', { v: 1, ok: true } satisfies Done, deps.random));
    return { deviceId: joiner.deviceId, name: joiner.name, sas: code };
  } catch (e) {
    // Whatever stopped us, a device that already joined is told at once instead of waiting out its timeout.
    if (!answered && (joinBytes ?? (await remote.get(keys.join).catch(() => null)))) {
      const reason: Refusal = KithError.is(e, ErrorCode.PairingDeclined) ? 'declined' : KithError.is(e, ErrorCode.PairingExpired) ? 'expired' : 'cancelled';
      await remote.put(keys.done, await seal(c, 'done', { v: 1, ok: false, reason } satisfies Done, deps.random)).catch(() => undefined);
    }
    throw e;
  } finally {
    await cleanup();
  }
}

const expired = (timeoutMs: number, what: string): KithError =>
  new KithError(ErrorCode.PairingExpired, `${what} within ${Math.round(timeoutMs / 1000)} s; the code is no longer valid`, {
    hint: 'start the pairing again for a new code',
    reason: 'no-answer',
  });

/** The joining side: posts this device's keys and waits for the inviter's answer. */
export async function joinPairing(
  remote: Remote,
  codeText: string,
  device: DeviceKeys,
  name: string,
  deps: Deps,
  o: { onSas?: (sas: string) => void; timeoutMs?: number; signal?: AbortSignal; pollMs?: number },
): Promise<{ vaultId: string; headerHash: string; inviter: string }> {
  const c = parsePairingCode(codeText);
  const keys = {
    offer: remoteKeys.pairing(c.pairingId, 'offer'),
    join: remoteKeys.pairing(c.pairingId, 'join'),
    done: remoteKeys.pairing(c.pairingId, 'done'),
  };
  const gone = () =>
    new KithError(ErrorCode.PairingExpired, 'this pairing code expired or was already used', {
      hint: 'start the pairing on the other device again for a new code; check that both use the same remote',
      reason: 'code-gone',
    });
  const offerBytes = await remote.get(keys.offer);
  if (!offerBytes) throw gone();
  const offer = await open<Offer>(c, 'offer', offerBytes);
  if (offer.expiresAt < deps.now()) throw gone();
  const eph = boxKeyFromSecret(deps.random(32));
  const body: Omit<Join, 'sig' | 'v'> = {
    deviceId: device.deviceId,
    name,
    signPub: toBase64url(device.sign.pub),
    boxPub: toBase64url(device.box.pub),
    eph: toBase64url(eph.pub),
  };
  const sig = await ed25519Sign(device.sign.seed, joinProof(c, await sha256(offerBytes), body));
  const joinBytes = await seal(c, 'join', { v: 1, ...body, sig: toBase64url(sig) } satisfies Join, deps.random);
  if (!(await putIfAbsentHolds(remote, keys.join, joinBytes))) throw gone();
  o.onSas?.(await sas(c, x25519Shared(eph.secret, fromBase64url(offer.eph)), offerBytes, joinBytes));
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  try {
    let doneBytes: Uint8Array | null;
    while (!(doneBytes = await remote.get(keys.done))) {
      if (Date.now() - started > timeoutMs) throw new KithError(ErrorCode.PairingDeclined, 'the other device did not confirm in time');
      await abortableSleep(o.pollMs ?? DEFAULT_POLL_MS, o.signal, 'pairing cancelled');
    }
    const done = await open<Done>(c, 'done', doneBytes);
    if (done.reason === 'cancelled')
      throw new KithError(ErrorCode.PairingExpired, 'the other device cancelled the pairing', {
        hint: 'start the pairing there again for a new code',
        reason: 'inviter-cancelled',
      });
    if (done.reason === 'expired')
      throw new KithError(ErrorCode.PairingExpired, 'the other device stopped waiting: nobody confirmed there in time', {
        hint: 'start the pairing there again and confirm while the code is valid',
        reason: 'inviter-stopped-waiting',
      });
    if (!done.ok)
      throw new KithError(ErrorCode.PairingDeclined, 'the other device declined the pairing', { hint: 'compare the six digits on both screens and try again' });
    return { vaultId: offer.vaultId, headerHash: offer.headerHash, inviter: offer.inviter };
  } finally {
    await remote.delete(keys.join).catch(() => undefined);
    await remote.delete(keys.done).catch(() => undefined);
  }
}

/** Options of `vault.devices.pair()`: invite a new device through the remote. */
export interface PairOptions {
  /** How long the code stays valid (default 10 minutes). */
  readonly timeoutMs?: number;
  /** Called once with the code to show to the person. */
  readonly onCode: (code: string) => void;
  /**
   * Called with the short authentication string; resolve true to admit the
   * device. `signal` fires when the answer is no longer wanted (the code
   * expired or the pairing was cancelled): stop asking then.
   */
  readonly confirm: (joiner: { deviceId: string; name: string; sas: string }, o: { signal: AbortSignal }) => Promise<boolean>;
  readonly signal?: AbortSignal;
  /** Poll interval while waiting (default 500 ms). */
  readonly pollMs?: number;
}
