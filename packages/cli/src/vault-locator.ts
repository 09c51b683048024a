/**
 * @module vault-locator
 * A relay URL that names no vault (`http://host:port`, or a path ending in
 * `/`) stands for the vault its recovery code finds: `kith init` and `kith
 * restore` put it at `<base>/<locator>` (docs/FORMAT.md, "Vault locator").
 * Folder paths and S3 prefixes ending in `/` already name a location, and
 * keep naming it.
 */
import { ErrorCode, KithError, vaultLocator } from '@kith/core';

/** True for an http(s) URL whose path names no vault: empty or ending in `/`. */
export function namesNoVault(url: string): boolean {
  if (!/^https?:\/\//i.test(url)) return false;
  try {
    return new URL(url).pathname.endsWith('/');
  } catch {
    return false; // left for the relay client to refuse, as before
  }
}

/**
 * Refuses a relay URL that names no vault where only a vault's own URL will
 * do (a join has no recovery code to locate it with): `http://h/v/` means "a
 * relay mounted at /v" to `init` and `restore`, so it must not mean "vault v" here.
 */
export function assertNamesVault(url: string, command: string): void {
  if (!namesNoVault(url)) return;
  throw new KithError(ErrorCode.Usage, `${command} needs the vault's full URL, and ${url} names only a relay`, {
    hint: "`kith status` on the other device shows the vault's URL (a URL ending in '/' names where a relay is mounted)",
  });
}

/** `url` (see {@link namesNoVault}) with the locator of `recoveryCode`'s vault as its last path segment. */
export function locatedUrl(url: string, recoveryCode: string): string {
  const u = new URL(url);
  u.pathname += vaultLocator(recoveryCode);
  return u.toString();
}

/** Where `kith restore` looks: `url`, or with a recovery code and a URL naming no vault, the code's locator under it. */
export function restoreUrl(url: string, recoveryCode: string | undefined): string {
  if (!namesNoVault(url)) return url;
  if (recoveryCode === undefined) {
    // A name derived from the password would let whoever lists the relay's names test guesses offline.
    throw new KithError(
      ErrorCode.Usage,
      `restoring with --password needs the vault's full URL (${url.replace(/\/?$/, '/')}<vault-name>), not only the relay's`,
      {
        hint: 'only a recovery code finds a vault by itself; `kith status` on any of its devices shows the URL',
      },
    );
  }
  return locatedUrl(url, recoveryCode);
}

/** Awaits `setup` (an init or a restore); when it ran under a locator (`located`) of the `given` relay URL, explains the failures that come from that. */
export async function underLocator<T>(given: string, located: boolean, setup: Promise<T>): Promise<T> {
  try {
    return await setup;
  } catch (e) {
    if (!located) throw e;
    if (KithError.is(e, ErrorCode.RemoteEmpty)) {
      throw new KithError(ErrorCode.RemoteEmpty, `no vault on ${given} was created with this recovery code`, {
        hint: "a code from `kith recovery rotate` finds nothing by itself: give the vault's full URL (`kith status` on one of its devices shows it)",
        cause: e,
      });
    }
    if (KithError.is(e, ErrorCode.NotFound)) {
      // The relay has no such route: the path before the last `/` is not where it is mounted.
      throw new KithError(ErrorCode.BadRemoteUrl, `no relay answers under ${given}`, {
        hint: "a relay URL ending in '/' names where the relay is mounted, not a vault: drop the '/' to name a vault",
        cause: e,
      });
    }
    throw e;
  }
}
