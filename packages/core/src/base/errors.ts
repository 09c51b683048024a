/**
 * @module errors
 * Every expected failure in Kith is a {@link KithError} with a stable code.
 * Codes are part of the public contract: the CLI prints them, scripts match
 * on them, and they never change meaning once released.
 */

/** Stable error codes. Add new ones; never rename or reuse one. */
export const ErrorCode = {
  /** Input the caller gave is malformed (bad JSON, bad name, bad flag value). */
  BadInput: 'KITH_BAD_INPUT',
  /** A collection name or record id that could be mistaken for a path. */
  BadName: 'KITH_BAD_NAME',
  /** A value larger than the format allows. */
  TooLarge: 'KITH_TOO_LARGE',
  /** The record (or object) asked for does not exist. */
  NotFound: 'KITH_NOT_FOUND',
  /** The local store has no vault yet (create, restore or join one first). */
  NoVault: 'KITH_NO_VAULT',
  /** The local store already holds a vault. */
  VaultExists: 'KITH_VAULT_EXISTS',
  /** The remote holds no vault at this location. */
  RemoteEmpty: 'KITH_REMOTE_EMPTY',
  /** The remote already holds a vault (init refuses to overwrite it). */
  RemoteInUse: 'KITH_REMOTE_IN_USE',
  /** The recovery code is malformed or its checksum does not match (typo). */
  BadRecoveryCode: 'KITH_BAD_RECOVERY_CODE',
  /** The recovery code is well formed but does not open this vault. */
  WrongRecoveryCode: 'KITH_WRONG_RECOVERY_CODE',
  /** The remote URL is malformed or names an unsupported scheme. */
  BadRemoteUrl: 'KITH_BAD_REMOTE_URL',
  /** The remote could not be reached or failed (after retries). */
  RemoteUnavailable: 'KITH_REMOTE_UNAVAILABLE',
  /** The remote refused our credentials. */
  RemoteAuth: 'KITH_REMOTE_AUTH',
  /** The remote location (bucket, directory) does not exist. */
  RemoteNotFound: 'KITH_REMOTE_NOT_FOUND',
  /** An object failed authentication (bad MAC, bad signature, bad framing). */
  IntegrityCorrupt: 'KITH_INTEGRITY_CORRUPT',
  /** An object is signed by a key that is not in the vault's device registry. */
  IntegrityUnknownSigner: 'KITH_INTEGRITY_UNKNOWN_SIGNER',
  /** A device's history went backwards (an older head or segment was replayed). */
  IntegrityRollback: 'KITH_INTEGRITY_ROLLBACK',
  /** A device's segment chain has a gap or a reordered/replaced segment. */
  IntegrityChain: 'KITH_INTEGRITY_CHAIN',
  /** A snapshot that does not match the vault: signed by a device the registry does not admit, or ahead of or off the devices' signed chains. */
  IntegritySnapshot: 'KITH_INTEGRITY_SNAPSHOT',
  /** A segment a device still needs is missing above every snapshot's vector: not compaction, the remote lost or withholds it. */
  IntegrityWithheld: 'KITH_INTEGRITY_WITHHELD',
  /** An object's format version or suite is not one this build reads. */
  UnsupportedFormat: 'KITH_UNSUPPORTED_FORMAT',
  /** The local store failed (disk full, I/O error, locked too long). */
  StoreFailed: 'KITH_STORE_FAILED',
  /** The local store's schema is newer than this build understands. */
  StoreTooNew: 'KITH_STORE_TOO_NEW',
  /** The device has no room left for the local store (a browser's storage quota, a full disk); the write that hit it kept nothing. */
  StorageFull: 'KITH_STORAGE_FULL',
  /** A value a typed collection's schema refused (`vault.collection(name, schema)`); nothing was written. */
  Schema: 'KITH_SCHEMA',
  /** There is no conflict where one was to be resolved. */
  NoConflict: 'KITH_NO_CONFLICT',
  /** The operation was cancelled through an AbortSignal. */
  Aborted: 'KITH_ABORTED',
  /** This device was revoked from the vault: it can no longer read or write it. */
  Revoked: 'KITH_REVOKED',
  /** This person may not do that in the space: a reader writing, or someone who is not a member; refused locally before anything is sent. */
  Forbidden: 'KITH_FORBIDDEN',
  /** This person was removed from the space (or left it): they can no longer read its new data or write to it. */
  Removed: 'KITH_REMOVED',
  /** The pairing code is malformed or its checksum does not match (typo). */
  BadPairingCode: 'KITH_BAD_PAIRING_CODE',
  /** The pairing code expired, was already used, or was cancelled. */
  PairingExpired: 'KITH_PAIRING_EXPIRED',
  /** The other device declined the pairing, or it timed out. */
  PairingDeclined: 'KITH_PAIRING_DECLINED',
  /** A space invite code is malformed, mistyped, or does not open the invite it names. */
  BadInviteCode: 'KITH_BAD_INVITE_CODE',
  /** A space invite expired, was already used, or was cancelled. */
  InviteExpired: 'KITH_INVITE_EXPIRED',
  /** The admin declined the invite (the short authentication strings differed, or they said no). */
  InviteDeclined: 'KITH_INVITE_DECLINED',
  /** The password does not open this vault (or no password is set). */
  WrongPassword: 'KITH_WRONG_PASSWORD',
  /** A new vault password is too easy to guess offline (too short, or a pattern). */
  WeakPassword: 'KITH_WEAK_PASSWORD',
  /** The named device is not in this vault's registry. */
  UnknownDevice: 'KITH_UNKNOWN_DEVICE',
  /** This home's device keys are sealed by a local passphrase that was not given. */
  Locked: 'KITH_LOCKED',
  /** The local passphrase does not unseal this home's device keys. */
  WrongPassphrase: 'KITH_WRONG_PASSPHRASE',
  /** The vault's storage quota on the remote (a relay) is full. */
  QuotaExceeded: 'KITH_QUOTA_EXCEEDED',
  /** The remote (a relay) kept refusing requests as too many, past the client's retries. */
  RateLimited: 'KITH_RATE_LIMITED',
  /** `kith check`: an object on the remote that no valid writer of this vault could have written. */
  ForeignObject: 'KITH_FOREIGN_OBJECT',
  /** `kith check`: a valid object on the remote that nothing refers to (an interrupted push or upload, a stale mark). */
  UnreferencedObject: 'KITH_UNREFERENCED_OBJECT',
  /** A command line the CLI does not understand (unknown command or flag, missing argument). */
  Usage: 'KITH_USAGE',
  /** A bug: an invariant did not hold. Please report it. */
  Internal: 'KITH_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An expected failure with a stable code and a hint of what to do. Hints
 * say what to do in words any app can show, never which command to type;
 * where an app words it its own way (the CLI names its commands), `reason`
 * names the case within the code, and is as stable as the code.
 */
export class KithError extends Error {
  override readonly name = 'KithError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; reason?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.reason = options.reason;
  }

  /** True when `e` is a KithError, optionally with the given code. */
  static is(e: unknown, code?: ErrorCode): e is KithError {
    return e instanceof KithError && (code === undefined || e.code === code);
  }
}

/** True for the integrity family of codes (`KITH_INTEGRITY_*`). */
export function isIntegrityError(e: unknown): e is KithError {
  return e instanceof KithError && e.code.startsWith('KITH_INTEGRITY_');
}

/** Asserts an invariant; a failure is a bug, not bad input. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new KithError(ErrorCode.Internal, `internal error: ${message}`);
}
