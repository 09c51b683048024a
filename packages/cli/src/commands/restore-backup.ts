/**
 * @module commands/restore-backup
 * `kith restore --from-backup FILE --remote URL`: the vault of a backup
 * recreated on a new, empty remote (the old one is gone), this home its
 * new device. The restore command calls it when `--from-backup` is given.
 */
import { Vault, type Remote, type Store, type BlobCache } from '@kith/core';
import { nodeSpaceRemotes } from '@kith/node';
import { backupFile, besideBackup } from './backup.js';
import type { Output } from '../output.js';
import { objectBar } from '../progress.js';
import { remoteOptions } from '../remote-url.js';

/** How the restore command opens a new home's store and remote (its `fresh`, creating the remote location). */
export type OpenFresh = <T>(fn: (a: { store: Store; remote: Remote; remoteUrl: string; blobCache: BlobCache }) => Promise<T>) => Promise<T>;

/** Restores `file` (and the files of its chain beside it) through `openFresh`; prints the contract's `{"vaultId","deviceId",...}`. */
export async function restoreFromBackupFile(
  out: Output,
  file: string,
  openFresh: OpenFresh,
  o: { secret: { recoveryCode: string } | { password: string }; deviceName: string; staleAfterMs: number },
): Promise<void> {
  const backup = backupFile(file); // a missing file fails before a home or remote is made
  const bar = objectBar(out.json, 'restoring');
  let restoredVault;
  try {
    restoredVault = await openFresh((a) =>
      Vault.restoreFromBackup({
        ...a,
        ...o.secret,
        deviceName: o.deviceName,
        // So the restore can tell which spaces were lost with the old remote.
        spaceRemotes: nodeSpaceRemotes(remoteOptions()),
        staleAfterMs: o.staleAfterMs,
        backup,
        beside: besideBackup(file),
        onProgress: (p) => bar.update(p.records + p.blobs, p.records + p.blobs),
      }),
    );
  } finally {
    bar.stop();
  }
  const { vault, restored } = restoredVault;
  await vault.close();
  out.warnings(vault.warnings);
  if (!restored.blobsIncluded)
    out.note('kith: note: this backup was written with --no-blobs: blobs were not included, so records that reference them will not find them');
  for (const lost of restored.lostSpaces)
    out.note(
      `kith: note: space ${JSON.stringify(lost.name)} (${lost.spaceId}) lived next to the lost vault at ${lost.url} and is gone with it; your devices stop syncing it`,
    );
  out.result(
    {
      vaultId: vault.vaultId,
      deviceId: vault.deviceId,
      records: restored.records,
      blobs: restored.blobs,
      blobsIncluded: restored.blobsIncluded,
      lostSpaces: restored.lostSpaces,
      warnings: vault.warnings,
    },
    () =>
      `Restored vault ${vault.vaultId} from ${file} (${restored.records} record(s), ${restored.blobs} blob(s)${restored.blobsIncluded ? '' : ': blobs were not included in this backup'}) as device ${vault.deviceId}. Pair your other devices with \`kith pair\` here.`,
  );
}
