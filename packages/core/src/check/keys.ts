/**
 * @module check/keys
 * Sealed epoch keys (`keys/<epoch>/<recipient>`). Keys sealed to this
 * device are opened with the format's own decoder and compared with the
 * key it holds; `previous` links are walked as a device that joins later
 * walks them; keys sealed to anyone else can only have their signer and
 * signature checked here. Also gathers every epoch key the later checks
 * decrypt with.
 */
import { bytesEqual, ed25519Verify } from '../crypto/index.js';
import { ErrorCode, KithError } from '../errors.js';
import { openEpochKey, remoteKeys, SEALED_KEY_DOMAIN } from '../format/index.js';
import { SIGNATURE_BYTES, signatureInput } from '../format/framing.js';
import type { EngineContext } from '../sync/context.js';
import { loadEpochKey } from '../sync/epochs.js';
import type { SealedKeyName } from './layout.js';
import type { CheckRun } from './run.js';

const RESEAL = 'remove it; a device that holds this epoch key can seal it again';
/** A box secret that opens nothing: keys sealed to others are checked up to their signature only. */
const NOT_OURS = new Uint8Array(32).fill(7);
/**
 * Who a link-walking context claims to be: no sealed key is addressed to
 * it, so `loadEpochKey` must reach older epochs through `previous` links.
 */
const LINK_WALKER = 'check';

/** A context for `loadEpochKey` that keeps keys in `keys` only (never in the store) and reads through the check's read-only remote. */
function keyContext(run: CheckRun, deviceId: string, keys: Map<number, Uint8Array>): EngineContext {
  return {
    ...run.ctx,
    remote: run.remote,
    deviceId,
    registry: run.registry,
    epochKeys: keys,
    rememberEpochKey: async (epoch, key) => void keys.set(epoch, key),
    saveRegistry: async () => undefined,
  };
}

/** Loads what it can, quietly: a key that cannot be had shows up as the objects that need it failing. */
async function tryLoad(ctx: EngineContext, epoch: number): Promise<Uint8Array | undefined> {
  try {
    return await loadEpochKey(ctx, epoch);
  } catch (e) {
    if (e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY_') || e.code === ErrorCode.UnsupportedFormat)) return undefined;
    throw e;
  }
}

export async function checkSealedKeys(run: CheckRun): Promise<void> {
  const { ctx, log, layout } = run;
  const epoch = run.registry.epoch;
  for (const [e, k] of ctx.epochKeys) run.epochKeys.set(e, k);
  const own = keyContext(run, ctx.deviceId, run.epochKeys);
  for (let e = epoch; e >= 0; e--) if (!run.epochKeys.has(e)) await tryLoad(own, e);

  const listed = new Set(layout.keys.map((k) => k.key));
  for (const k of layout.keys) await checkSealedKey(run, k);
  for (const [recipient] of run.registry.recipients()) {
    const key = remoteKeys.sealedKey(epoch, recipient);
    if (listed.has(key)) continue;
    const who = recipient === 'recovery' ? 'the recovery code' : recipient === 'password' ? 'the vault password' : `device ${recipient}`;
    log.add('missing', key, ErrorCode.NotFound, `the key of the current epoch ${epoch} is not sealed to ${who}`, `${who} cannot read data written now; a device of the vault can seal it again (for a device: pair it again)`);
  }
  // Walk every `previous` link from the newer key alone, as a device that joins later does.
  for (let e = 1; e <= epoch; e++) {
    const key = remoteKeys.sealedKey(e, 'previous');
    if (!listed.has(key)) {
      log.add('missing', key, ErrorCode.NotFound, `the link from epoch ${e} back to epoch ${e - 1} is missing`, `devices that join from now on cannot read data written before epoch ${e}; restore it from another copy of the remote`);
      continue;
    }
    const newer = run.epochKeys.get(e);
    if (!newer || log.has('damaged', key) || log.has('foreign', key)) continue;
    try {
      const older = await loadEpochKey(keyContext(run, LINK_WALKER, new Map([[e, newer]])), e - 1);
      const held = run.epochKeys.get(e - 1);
      if (!held) run.epochKeys.set(e - 1, older);
      else if (!bytesEqual(held, older)) log.add('damaged', key, ErrorCode.IntegrityCorrupt, `the link from epoch ${e} opens to another key than epoch ${e - 1}'s`, RESEAL);
    } catch (err) {
      log.failed(key, err, RESEAL);
    }
  }
}

async function checkSealedKey(run: CheckRun, k: SealedKeyName): Promise<void> {
  const { ctx, log } = run;
  const epoch = run.registry.epoch;
  if (k.epoch > epoch) {
    log.add('unreferenced', k.key, ErrorCode.UnreferencedObject, `sealed key for epoch ${k.epoch}, which never started (the registry is at epoch ${epoch})`, 'left by an interrupted revocation or recovery rotation; harmless, and safe to delete');
    return;
  }
  const recipientIssue = recipientProblem(run, k);
  if (recipientIssue) {
    log.add('foreign', k.key, recipientIssue.code, recipientIssue.message, 'delete it');
    return;
  }
  const bytes = await run.read(k.key);
  if (!bytes) return;
  const mine = k.recipient === ctx.deviceId;
  let signer: string | undefined;
  const signerPub = (id: string): Uint8Array | undefined => {
    signer = id;
    return admittedSigner(run, k, id);
  };
  try {
    const { epochKey } = await openEpochKey(bytes, { vaultId: ctx.vaultId, epoch: k.epoch, recipientId: k.recipient, recipientBoxSecret: mine ? ctx.boxSecret : NOT_OURS, signerPub });
    const held = run.epochKeys.get(k.epoch);
    if (held && !bytesEqual(held, epochKey)) {
      log.add('damaged', k.key, ErrorCode.IntegrityCorrupt, `sealed key ${k.epoch}/${k.recipient} opens to another key than this device holds for epoch ${k.epoch}`, RESEAL);
      return;
    }
    log.counts.keys++;
  } catch (e) {
    if (signer !== undefined && !admittedSigner(run, k, signer) && run.registry.deviceSignPub(signer)) {
      log.add('foreign', k.key, ErrorCode.Revoked, `sealed key ${k.epoch}/${k.recipient} is signed by device ${signer}, which was revoked before epoch ${k.epoch}`, 'delete it: no valid device could have written it');
      return;
    }
    // Sealed to someone else: opening must fail; the object is sound if its signer's signature holds.
    if (!mine && signer !== undefined && KithError.is(e, ErrorCode.IntegrityCorrupt) && (await signedBy(run, bytes, admittedSigner(run, k, signer)))) {
      log.counts.keys++;
      return;
    }
    log.failed(k.key, e, RESEAL);
  }
}

/** The signing key of `signer` if it could have sealed a key of `k.epoch`: a registered device not revoked by then. */
function admittedSigner(run: CheckRun, k: SealedKeyName, signer: string): Uint8Array | undefined {
  const revokedAt = run.revokedAt.get(signer);
  if (revokedAt !== undefined && revokedAt <= k.epoch) return undefined;
  return run.registry.deviceSignPub(signer);
}

function recipientProblem(run: CheckRun, k: SealedKeyName): { code: ErrorCode; message: string } | undefined {
  if (k.recipient === 'recovery' || k.recipient === 'password') return undefined;
  if (k.recipient === 'previous') return k.epoch === 0 ? { code: ErrorCode.ForeignObject, message: 'epoch 0 has no previous epoch to link to' } : undefined;
  if (!run.registry.device(k.recipient)) return { code: ErrorCode.UnknownDevice, message: `sealed key ${k.epoch}/${k.recipient} is addressed to a device this vault never added` };
  const revokedAt = run.revokedAt.get(k.recipient);
  if (revokedAt !== undefined && revokedAt <= k.epoch) {
    return { code: ErrorCode.Revoked, message: `sealed key ${k.epoch}/${k.recipient} is addressed to a device revoked before epoch ${k.epoch}` };
  }
  return undefined;
}

async function signedBy(run: CheckRun, bytes: Uint8Array, pub: Uint8Array | undefined): Promise<boolean> {
  if (!pub || bytes.length <= SIGNATURE_BYTES) return false;
  const body = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  return ed25519Verify(pub, signatureInput(SEALED_KEY_DOMAIN, run.ctx.vaultId, body), bytes.subarray(bytes.length - SIGNATURE_BYTES));
}
