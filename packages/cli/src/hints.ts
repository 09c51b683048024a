/**
 * @module hints
 * The CLI's own wording for core errors. Core hints say what to do in words
 * any app can show; the CLI names its commands and flags instead, keyed by
 * the error's code and the `reason` core gives the case. An error without
 * an entry keeps the hint it came with.
 */
import { ErrorCode, type KithError } from '@kith/core';

const table: ReadonlyMap<string, string> = new Map([
  [`${ErrorCode.NoVault}/store-empty`, 'create one with `kith init --remote URL` or join one with `kith restore`'],
  [`${ErrorCode.VaultExists}/store-has-vault`, 'use another --home for another device'],
  [`${ErrorCode.RemoteEmpty}/no-vault-at-remote`, 'check the remote URL, or create a vault with `kith init`'],
  [`${ErrorCode.RemoteInUse}/remote-has-vault`, 'join it with `kith restore --recovery-code ...` or `kith join`, or choose an empty location'],
  [`${ErrorCode.RemoteInUse}/created-concurrently`, 'join that vault with `kith restore`'],
  [`${ErrorCode.WrongRecoveryCode}/recovery-code-replaced`, 'use the newest recovery code (`kith recovery rotate` printed it)'],
  [`${ErrorCode.StoreTooNew}/development-store`, 'create a new home and restore into it'],
  [`${ErrorCode.UnsupportedFormat}/newer-format`, 'upgrade kith on this device'],
  [`${ErrorCode.Locked}/passphrase-needed`, 'give it in KITH_PASSPHRASE'],
  [`${ErrorCode.WrongPassphrase}/passphrase-wrong`, "the passphrase that protects this device's keys (KITH_PASSPHRASE)"],
  [`${ErrorCode.Revoked}/device-revoked`, 'it can no longer read new data; join again with `kith pair` from another device or `kith restore` in a new home'],
  [`${ErrorCode.UnknownDevice}/unknown-device`, 'list the devices with `kith devices`'],
  [`${ErrorCode.Forbidden}/reader`, 'an admin of the space can make you a writer with `kith space role SPACE PERSON writer`'],
  [`${ErrorCode.Forbidden}/not-a-member`, 'an admin of the space can invite you with `kith space invite SPACE`; then run `kith space join CODE` here'],
  [`${ErrorCode.NotFound}/unknown-space`, 'see the spaces you joined with `kith space ls`'],
  [`${ErrorCode.BadName}/reserved-history`, 'its history is internal: add `--reserved` to read it'],
  [`${ErrorCode.NoConflict}/no-conflict`, 'list conflicts with `kith conflicts`'],
  [`${ErrorCode.BadPairingCode}/recovery-code-given`, 'use `kith restore --recovery-code` with it'],
  [`${ErrorCode.PairingExpired}/no-answer`, 'run `kith pair` again'],
  [`${ErrorCode.PairingExpired}/code-gone`, 'run `kith pair` on the other device for a new code; check that both use the same remote'],
  [`${ErrorCode.PairingExpired}/inviter-cancelled`, 'run `kith pair` there again for a new code'],
  [`${ErrorCode.PairingExpired}/inviter-stopped-waiting`, 'run `kith pair` there again and confirm while the code is valid'],
  [
    `${ErrorCode.IntegrityChain}/registry-fork`,
    'the device set up on the old state (often the newest) wrote under a key a revoked device may hold: compare `kith devices` on both, set that device up again in a new home (`kith restore`) and treat what it wrote as exposed',
  ],
  [
    `${ErrorCode.IntegrityUnknownSigner}/unknown-writer`,
    'they are ignored; if a device was set up recently, the remote may have shown it an old state that hid a revocation: set that device up again (`kith restore` in a new home)',
  ],
]);

/** Codes the CLI words one way whatever the case (a reason-keyed entry above still wins). */
const byCode: ReadonlyMap<string, string> = new Map([
  [
    ErrorCode.Removed,
    "the space's new data no longer reaches you: an admin can invite you again (`kith space invite` there, `kith space join CODE` here); `kith space sync SPACE off` stops syncing it here",
  ],
  [
    ErrorCode.IntegrityWithheld,
    'compaction never deletes a segment no snapshot covers, so the remote lost or withholds it (nothing after it was applied): `kith check` lists what is missing; restore it from another copy of the remote',
  ],
]);

/** The hint the CLI prints for `e`: its own wording where it has one, else the hint `e` came with. */
export function cliHint(e: KithError): string | undefined {
  return (e.reason === undefined ? undefined : table.get(`${e.code}/${e.reason}`)) ?? byCode.get(e.code) ?? e.hint;
}

/** The code/reason pairs the CLI words its own way (a test checks that core still gives each). */
export const cliHintKeys: readonly string[] = [...table.keys()];

/** The codes the CLI words its own way in every case. */
export const cliCodeHintKeys: readonly string[] = [...byCode.keys()];
