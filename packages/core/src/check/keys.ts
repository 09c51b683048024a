/**
 * @module check/keys
 * Sealed epoch keys, at the place readers look for each epoch's keys
 * (`keys/<epoch>/<keyId>/<recipient>` for an epoch whose opening entry
 * carries a key check, else `keys/<epoch>/<recipient>`). Keys sealed to
 * this device are opened with the epochs module's own rules (signer, key
 * check) and compared with the key it holds; `previous` links are walked
 * as a device that joins later walks them; keys sealed to anyone else can
 * only have their addressing, signer and signature checked. Also gathers
 * every epoch key the later checks decrypt with.
 */
import { bytesEqual } from '../crypto/index.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { EngineContext } from '../sync/context.js';
import { epochBoxKey, openSealedKeyBytes, sealedKeyPlace, verifySealedKeyAt, type Admits, type KeyRules } from '../identity/epoch-seals.js';
import { loadEpochKey } from '../identity/epochs.js';
import type { SealedKeyName } from './layout.js';
import { checkContext, type CheckRun } from './run.js';

const RESEAL = 'remove it; a device that holds this epoch key can seal it again';

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
  const own = checkContext(run);
  for (let e = epoch; e >= 0; e--) if (!run.epochKeys.has(e)) await tryLoad(own, e);

  const listed = new Set(layout.keys.map((k) => k.key));
  /** epoch → the bytes of its verified `previous` link. */
  const links = new Map<number, Uint8Array>();
  for (const k of layout.keys) await checkSealedKey(run, k, links);
  for (const [recipient] of run.registry.recipients()) {
    const key = sealedKeyPlace(run.registry, epoch, recipient);
    if (listed.has(key)) continue;
    const who = recipient === 'recovery' ? 'the recovery code' : recipient === 'password' ? 'the vault password' : `device ${recipient}`;
    log.add(
      'missing',
      key,
      ErrorCode.NotFound,
      `the key of the current epoch ${epoch} is not sealed to ${who}`,
      `${who} cannot read data written now; a device of the vault can seal it again (for a device: pair it again)`,
    );
  }
  // Walk every `previous` link from the newer key alone, as a device that joins later does.
  for (let e = 1; e <= epoch; e++) {
    const key = sealedKeyPlace(run.registry, e, 'previous');
    if (!listed.has(key)) {
      log.add(
        'missing',
        key,
        ErrorCode.NotFound,
        `the link from epoch ${e} back to epoch ${e - 1} is missing`,
        `devices that join from now on cannot read data written before epoch ${e}; restore it from another copy of the remote`,
      );
      continue;
    }
    const newer = run.epochKeys.get(e);
    const bytes = links.get(e);
    if (!newer || !bytes) continue; // unreadable, or reported with its problem already
    try {
      const older = await openSealedKeyBytes(rulesOf(run), e, 'previous', bytes, epochBoxKey(newer).secret);
      const held = run.epochKeys.get(e - 1);
      if (!held) run.epochKeys.set(e - 1, older);
      else if (!bytesEqual(held, older))
        log.add('damaged', key, ErrorCode.IntegrityCorrupt, `the link from epoch ${e} opens to another key than epoch ${e - 1}'s`, RESEAL);
    } catch (err) {
      log.failed(key, err, RESEAL);
    }
  }
}

const rulesOf = (run: CheckRun): KeyRules => ({ registry: run.registry, vaultId: run.ctx.vaultId });

async function checkSealedKey(run: CheckRun, k: SealedKeyName, links: Map<number, Uint8Array>): Promise<void> {
  const { ctx, log } = run;
  const epoch = run.registry.epoch;
  if (k.epoch > epoch) {
    log.add(
      'unreferenced',
      k.key,
      ErrorCode.UnreferencedObject,
      `sealed key for epoch ${k.epoch}, which never started (the registry is at epoch ${epoch})`,
      'left by an interrupted revocation or recovery rotation; harmless, and safe to delete',
    );
    return;
  }
  const recipientIssue = recipientProblem(run, k);
  if (recipientIssue) {
    log.add('foreign', k.key, recipientIssue.code, recipientIssue.message, 'delete it');
    return;
  }
  const place = sealedKeyPlace(run.registry, k.epoch, k.recipient);
  if (k.key !== place) {
    const folder = place.slice(0, place.length - k.recipient.length);
    log.add(
      'unreferenced',
      k.key,
      ErrorCode.UnreferencedObject,
      `sealed key ${k.epoch}/${k.recipient} lies where no reader looks: the keys of epoch ${k.epoch} are under ${folder}`,
      'left by a revocation or recovery rotation that lost a race, or written ahead of one by the device it revoked; harmless, and safe to delete',
    );
    return;
  }
  const bytes = await run.read(k.key);
  if (!bytes) return;
  let signer: string | undefined;
  // Judged as of its epoch: a device revoked later still sealed this epoch's keys validly.
  const admits: Admits = (id) => ((signer = id), admittedSigner(run, k.epoch, id));
  try {
    if (k.recipient === ctx.deviceId) {
      const epochKey = await openSealedKeyBytes(rulesOf(run), k.epoch, k.recipient, bytes, ctx.boxSecret, admits);
      const held = run.epochKeys.get(k.epoch);
      if (held && !bytesEqual(held, epochKey)) {
        log.add(
          'damaged',
          k.key,
          ErrorCode.IntegrityCorrupt,
          `sealed key ${k.epoch}/${k.recipient} opens to another key than this device holds for epoch ${k.epoch}`,
          RESEAL,
        );
        return;
      }
    } else {
      await verifySealedKeyAt(rulesOf(run), k.epoch, k.recipient, bytes, admits);
      if (k.recipient === 'previous') links.set(k.epoch, bytes);
    }
    log.counts.keys++;
  } catch (e) {
    if (signer !== undefined && KithError.is(e, ErrorCode.IntegrityUnknownSigner) && run.registry.deviceSignPub(signer)) {
      log.add(
        'foreign',
        k.key,
        ErrorCode.Revoked,
        `sealed key ${k.epoch}/${k.recipient} is signed by device ${signer}, which was revoked before epoch ${k.epoch}`,
        'delete it: no valid device could have written it',
      );
      return;
    }
    log.failed(k.key, e, RESEAL);
  }
}

/** The signing key of `signer` if it could have sealed a key of `epoch`: a registered device not revoked by then. */
function admittedSigner(run: CheckRun, epoch: number, signer: string): Uint8Array | undefined {
  const revokedAt = run.revokedAt.get(signer);
  if (revokedAt !== undefined && revokedAt <= epoch) return undefined;
  return run.registry.deviceSignPub(signer);
}

function recipientProblem(run: CheckRun, k: SealedKeyName): { code: ErrorCode; message: string } | undefined {
  if (k.recipient === 'recovery' || k.recipient === 'password') return undefined;
  if (k.recipient === 'previous') return k.epoch === 0 ? { code: ErrorCode.ForeignObject, message: 'epoch 0 has no previous epoch to link to' } : undefined;
  if (!run.registry.device(k.recipient))
    return { code: ErrorCode.UnknownDevice, message: `sealed key ${k.epoch}/${k.recipient} is addressed to a device this vault never added` };
  const revokedAt = run.revokedAt.get(k.recipient);
  if (revokedAt !== undefined && revokedAt <= k.epoch) {
    return { code: ErrorCode.Revoked, message: `sealed key ${k.epoch}/${k.recipient} is addressed to a device revoked before epoch ${k.epoch}` };
  }
  return undefined;
}
