/**
 * @module check/registry
 * The vault header and the device registry, replayed from the remote with
 * the registry's own verifier, then compared with the chain this device
 * has verified before (which it never forgets).
 */
import { bytesToHex } from '../crypto/index.js';
import { ErrorCode } from '../base/errors.js';
import { decodeVaultHeader, remoteKeys } from '../format/index.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';
import type { CheckRun } from './run.js';

const RESTORE = 'restore it from another copy of the remote, or remove it';

/**
 * Checks `vault` and every `registry/<seq>`. Afterwards `run.registry` is
 * the longer of the remote's verified chain and this device's, when one
 * extends the other; this device's when they differ.
 */
export async function checkRegistry(run: CheckRun): Promise<void> {
  const { log, layout } = run;
  const local = run.ctx.registry;
  const localHashes = local.state.hashes;
  const header = layout.vault ? await run.read(remoteKeys.vault) : null;
  if (!header) {
    log.add(
      'missing',
      remoteKeys.vault,
      ErrorCode.RemoteEmpty,
      'the vault header is missing',
      'restore it from another copy of the remote; until then no new device can join',
    );
    return;
  }
  let replay: DeviceRegistry;
  try {
    const h = await decodeVaultHeader(header);
    if (h.vaultId !== run.ctx.vaultId) {
      log.add(
        'foreign',
        remoteKeys.vault,
        ErrorCode.ForeignObject,
        `the vault header belongs to vault ${h.vaultId}, not ${run.ctx.vaultId}`,
        "another vault was written over this location; restore this vault's header",
      );
      return;
    }
    run.log.counts.vault++;
    replay = new DeviceRegistry(run.ctx.vaultId, initialRegistry(h.recoverySignPub, h.recoveryBoxPub));
  } catch (e) {
    log.failed(remoteKeys.vault, e, RESTORE);
    return;
  }
  let broken: number | undefined;
  const seqs = [...layout.registry.keys()].sort((a, b) => a - b);
  const last = Math.max(0, ...seqs, local.seq);
  for (let seq = 1; seq <= last; seq++) {
    const key = remoteKeys.registryEntry(seq);
    if (broken !== undefined) {
      if (layout.registry.has(seq)) {
        log.add(
          'damaged',
          key,
          ErrorCode.IntegrityChain,
          `registry entry ${seq} cannot be verified: it follows entry ${broken}, which is not valid`,
          `mend entry ${broken} first`,
        );
      }
      continue;
    }
    const bytes = layout.registry.has(seq) ? await run.read(key) : null;
    if (!bytes) {
      const seen = seq <= local.seq ? `this device verified it before` : `entry ${Math.max(...seqs)} is there`;
      log.add(
        'missing',
        key,
        ErrorCode.IntegrityChain,
        `registry entry ${seq} is missing (${seen})`,
        'restore it from another copy of the remote; devices refuse a registry with a gap',
      );
      broken = seq;
      continue;
    }
    try {
      const entry = await replay.applyNext(bytes);
      if (entry.change.kind === 'revoke') run.revokedAt.set(entry.change.deviceId, entry.change.epoch);
      run.log.counts.registry++;
    } catch (e) {
      log.failed(key, e, RESTORE);
      broken = seq;
      continue;
    }
    const known = localHashes[seq - 1];
    if (known !== undefined && known !== bytesToHex(replay.hash)) {
      log.add(
        'damaged',
        key,
        ErrorCode.IntegrityChain,
        `registry entry ${seq} differs from the one this device verified: the registry forked`,
        'someone rewrote registry entries on the remote; restore the original one',
      );
      broken = seq;
    }
  }
  run.registry = extends_(replay, local) ? replay : local;
}

/** True when `a`'s chain contains all of `b`'s. */
function extends_(a: DeviceRegistry, b: DeviceRegistry): boolean {
  if (a.seq < b.seq) return false;
  const ah = a.state.hashes;
  return b.state.hashes.every((h, i) => h === ah[i]);
}
