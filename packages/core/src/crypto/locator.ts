/**
 * @module crypto/locator
 * The vault locator: a name for a vault on a remote, derived one-way from
 * its recovery secret, so a person holding only the relay's address and
 * the recovery code can find their vault (docs/FORMAT.md, "Vault locator").
 */
import { base32nopad } from '@scure/base';
import { systemRandom, type RandomBytes } from '../base/deps.js';
import { utf8 } from './bytes.js';
import { hkdfSha256 } from './primitives.js';
import { formatRecoveryCode, generateRecoveryCode, parseRecoveryCode } from './recovery.js';

/** Prefix of version 1 locators; a later derivation gets another prefix, so old and new names never collide. */
export const LOCATOR_PREFIX = 'v1.';
const LOCATOR_BYTES = 16;

/**
 * The locator of the vault a recovery secret opens: HKDF-SHA256 under the
 * same salt as the recovery keys but its own info string, so it says
 * nothing about them (or the secret) to whoever stores it.
 */
export function locatorOf(secret: Uint8Array): string {
  const bytes = hkdfSha256(secret, utf8('kith/v1/recovery'), utf8('kith/locator/v1'), LOCATOR_BYTES);
  return LOCATOR_PREFIX + base32nopad.encode(bytes).toLowerCase();
}

/**
 * The name under which the vault that `recoveryCode` opens lives on a
 * relay (or in a bucket or folder) when it was created by its recovery
 * code alone: `v1.` and 26 lowercase base32 characters, within every
 * remote's name alphabet. Reveals nothing about the code. A mistyped code
 * throws KITH_BAD_RECOVERY_CODE, as `Vault.restore` does.
 *
 * The locator follows the code the vault was created with: a code from a
 * later `rotateRecoveryCode()` has another locator, so after a rotation
 * keep the vault's full URL.
 *
 * @example
 * const remote = openRelayRemote(`${relayBase}/${vaultLocator(code)}`);
 * const vault = await Vault.restore({ store, remote, remoteUrl: remote.url, recoveryCode: code });
 */
export function vaultLocator(recoveryCode: string): string {
  return locatorOf(parseRecoveryCode(recoveryCode));
}

/**
 * A fresh recovery code, made before the vault exists so that its
 * {@link vaultLocator} can name the remote; pass it to
 * `Vault.create({ recoveryCode })`. Treat it as the secret it is.
 */
export function newRecoveryCode(random: RandomBytes = systemRandom): string {
  return generateRecoveryCode(random).code;
}

/** A recovery code the caller made (see {@link newRecoveryCode}): checked, in its canonical form, with its secret. */
export function givenRecoveryCode(text: string): { code: string; secret: Uint8Array } {
  const secret = parseRecoveryCode(text);
  return { code: formatRecoveryCode(secret), secret };
}
