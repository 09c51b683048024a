/**
 * @module spaces/own-refusal
 * What the members refuse of this device's own chain in a space: segments
 * it sent past the person cut of the entry that ended its person's right
 * to write (a write that raced its demotion or removal, see
 * spaces/person-cut.ts). The device applied those changes when it made
 * them and its outbox let them go once sent, so without this its person
 * would never learn that nobody else will see them.
 */
import { ErrorCode, isIntegrityError, KithError } from '../base/errors.js';
import { sha256 } from '../crypto/index.js';
import { decodeSegment, MAX_SEGMENT_PAYLOAD } from '../format/segment.js';
import type { Remote } from '../ports/remote.js';
import { remoteKeys } from '../format/remote-keys.js';
import { decodeSpaceHead, spaceHeadKey } from './space-head.js';
import type { SpaceState } from './space-state.js';

/** Where this device's chain stops for every other member: nothing from `seq` on is applied by them. */
export interface OwnRefusal {
  readonly deviceId: string;
  readonly seq: number;
  readonly error: KithError;
}

/**
 * The first of this device's segments the members refuse as past its
 * person's cut, or undefined (also when no entry with a cut ended the
 * person's right to write: then nothing is read from the remote).
 */
export async function ownCutRefusal(
  remote: Remote,
  state: Pick<SpaceState, 'spaceId' | 'm' | 'certs'>,
  me: { readonly personId: string; readonly deviceId: string },
): Promise<OwnRefusal | undefined> {
  const { m } = state;
  const ends: { seq: number; lastSeq: number }[] = [];
  for (let e = m.writeEnd(me.personId, 0); e; e = m.writeEnd(me.personId, e.seq)) {
    if (e.cut) ends.push({ seq: e.seq, lastSeq: e.cut.find((x) => x.deviceId === me.deviceId)?.lastSeq ?? 0 });
  }
  const certs = state.certs(me.personId);
  if (ends.length === 0 || !certs) return undefined;
  const keyAt = (v: number): Uint8Array => {
    const d = certs.deviceAt(me.deviceId, v);
    if (!d) throw new KithError(ErrorCode.IntegrityUnknownSigner, `this device is not in version ${v} of its person’s certificate`);
    return d.signPub;
  };
  const headBytes = await remote.get(spaceHeadKey(me.deviceId));
  if (!headBytes) return undefined;
  const head = await decodeSpaceHead(headBytes, { spaceId: state.spaceId, deviceId: me.deviceId, signPub: (_, v) => keyAt(v) });
  let first: { seq: number; end: number; lastSeq: number } | undefined;
  for (const end of ends) {
    // The first segment past this cut is refused if it names a seq before the entry (later ones only follow it).
    const seq = end.lastSeq + 1;
    if (seq > head.seq || (first && first.seq <= seq)) continue;
    const bytes = await remote.get(remoteKeys.segment(me.deviceId, seq));
    if (!bytes) continue;
    let named = Infinity;
    await decodeSegment(bytes, {
      vaultId: state.spaceId,
      deviceId: me.deviceId,
      seq,
      space: true,
      signatureOnly: true,
      signPub: (c) => ((named = c.membershipSeq), keyAt(c.certVersion)),
      epochKey: () => undefined,
      maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
    });
    if (named < end.seq) first = { seq, end: end.seq, lastSeq: end.lastSeq };
  }
  if (!first) return undefined;
  return {
    deviceId: me.deviceId,
    seq: first.seq,
    error: new KithError(
      ErrorCode.IntegrityUnknownSigner,
      `this device sent segments ${first.seq}–${head.seq} after membership entry ${first.end} ended your right to write (it cut this device after segment ${first.lastSeq}): the other members refuse them, so their changes stay on this device only`,
      { hint: 'an admin made you a reader or removed you while this device was writing; ask an admin if those changes matter', reason: 'person-cut' },
    ),
  };
}

/**
 * Before a device writes again (its person a writer again), takes back
 * its segments the members refuse as past its person's cut: it deletes
 * them and continues its chain after the last one they accept, or every
 * later segment would be refused behind them. Their changes stay on this
 * device (it was told, see {@link ownCutRefusal}). Returns the chain
 * position to write after: `chain` itself when nothing is refused.
 */
export async function rewindOwnChain(
  remote: Remote,
  state: Pick<SpaceState, 'spaceId' | 'm' | 'certs'>,
  me: { readonly personId: string; readonly deviceId: string },
  chain: { readonly seq: number; readonly hash: Uint8Array },
): Promise<{ seq: number; hash: Uint8Array }> {
  // Own objects the remote damaged prove nothing here: the write goes on as before (its own checks catch a broken chain).
  const own = await ownCutRefusal(remote, state, me).catch((e: unknown) => {
    if (isIntegrityError(e)) return undefined;
    throw e;
  });
  if (!own || own.seq > chain.seq) return chain;
  const prev = own.seq - 1;
  const before = prev === 0 ? undefined : await remote.get(remoteKeys.segment(me.deviceId, prev));
  if (prev > 0 && !before) throw new KithError(ErrorCode.IntegrityWithheld, `segment ${me.deviceId}/${prev} of the space is missing`);
  // Newest first: a crash halfway leaves a shorter chain, never a gap.
  for (let seq = chain.seq; seq >= own.seq; seq--) await remote.delete(remoteKeys.segment(me.deviceId, seq));
  return { seq: prev, hash: before ? await sha256(before) : new Uint8Array(32) };
}
