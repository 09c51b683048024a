/**
 * @module commands/setup
 * Making this home a device of a vault: init, restore, join, pair.
 */
import { ErrorCode, KithError, newRecoveryCode, parseRecoveryCode, Vault } from '@kith/core';
import type { Command } from 'commander';
import { homeBlobCache, homeDir, openHomeStore } from '../home.js';
import { normalizeRemoteUrl, openRemote } from '../remote-url.js';
import { readNewSecret, readSecret, recoveryCodeFrom } from '../secrets.js';
import { assertNamesVault, locatedUrl, namesNoVault, restoreUrl, underLocator } from '../vault-locator.js';
import { contextOf, positiveInt, staleAfterMs, staleAfterOption } from './shared.js';
import { restoreFromBackupFile } from './restore-backup.js';
import { admitting } from './confirm.js';

/** Opens store and remote for a home that is about to join a vault; closes both on failure. */
async function fresh<T>(
  cmd: Command,
  url: string,
  create: boolean,
  fn: (a: {
    store: Awaited<ReturnType<typeof openHomeStore>>;
    remote: Awaited<ReturnType<typeof openRemote>>;
    remoteUrl: string;
    blobCache: ReturnType<typeof homeBlobCache>;
  }) => Promise<T>,
): Promise<T> {
  const { opts } = contextOf(cmd);
  const remoteUrl = normalizeRemoteUrl(url);
  // Asked before anything is opened: a mistyped confirmation leaves no home behind.
  const wantsPassphrase = cmd.opts<{ localPassphrase?: boolean }>().localPassphrase ?? false;
  const localPassphrase = wantsPassphrase ? await readNewSecret('KITH_PASSPHRASE', 'local passphrase for this device') : undefined;
  const store = await openHomeStore(opts);
  let remote;
  try {
    // Before the remote: `init` on a used home must not leave a new folder behind.
    if (await Vault.readConfig(store))
      throw new KithError(ErrorCode.VaultExists, `${homeDir(opts)} already holds a vault`, { hint: 'use another --home for another device' });
    remote = await openRemote(remoteUrl, { create });
    return await fn({ store, remote, remoteUrl, blobCache: homeBlobCache(opts), ...(localPassphrase ? { localPassphrase } : {}) });
  } catch (e) {
    await remote?.close();
    await store.close();
    throw e;
  }
}

/** Adds `init`, `restore`, `join` and `pair` to the program. */
export function registerSetup(program: Command): void {
  program
    .command('init')
    .description('create a new vault on a remote, with this home as its first device')
    .requiredOption('--remote <url>', 'folder path, file:///dir, s3://bucket/prefix, or http(s)://relay/<vault> (no <vault>: named from the recovery code)')
    .option('--name <name>', 'a name for this device', 'device')
    .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)")
    .action(async (o: { remote: string; name: string }, cmd: Command) => {
      const { out } = contextOf(cmd);
      // A relay URL naming no vault: the vault goes under the locator of a code made now (see vault-locator.ts).
      const code = namesNoVault(o.remote) ? newRecoveryCode() : undefined;
      const remote = normalizeRemoteUrl(code === undefined ? o.remote : locatedUrl(o.remote, code));
      const given = code === undefined ? {} : { recoveryCode: code };
      const creating = fresh(cmd, remote, true, (a) => Vault.create({ ...a, ...given, deviceName: o.name }));
      const { vault, recoveryCode } = await underLocator(o.remote, code !== undefined, creating);
      await vault.close();
      out.result({ vaultId: vault.vaultId, deviceId: vault.deviceId, recoveryCode, remote }, () =>
        [
          `Created vault ${vault.vaultId} on ${remote}; this device is ${vault.deviceId}.`,
          ...(code === undefined ? [] : [`The relay's address and the recovery code below are enough to find it again.`]),
          '',
          'Recovery code (shown only now; store it somewhere safe, e.g. a password manager or on paper):',
          '',
          `    ${recoveryCode}`,
          '',
          'Anyone with this code can read the vault; without it, losing every device loses the data.',
        ].join('\n'),
      );
    });

  staleAfterOption(
    program
      .command('restore')
      .description('join an existing vault as a new device with the recovery code or the vault password')
      .requiredOption('--remote <url>', 'where the vault lives (a relay URL without a vault name: found by the recovery code)')
      .option('--recovery-code <code>', 'the recovery code printed by `kith init`, or - to read it from stdin (default: $KITH_RECOVERY_CODE)')
      .option('--password', 'use the vault password instead ($KITH_PASSWORD, stdin, or a hidden prompt)')
      .option('--name <name>', 'a name for this device', 'device')
      .option('--from-backup <file>', 'recreate the vault from this backup (`kith backup`) on a new, empty remote')
      .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)"),
  ).action(async (o: { remote: string; recoveryCode?: string; password?: boolean; name: string; staleAfter: number; fromBackup?: string }, cmd: Command) => {
    const { out } = contextOf(cmd);
    if (o.recoveryCode !== undefined && o.password) throw new KithError(ErrorCode.Usage, 'give either --recovery-code or --password, not both');
    const recoveryCode = o.password ? undefined : await recoveryCodeFrom(o.recoveryCode);
    if (!o.password && recoveryCode === undefined) {
      throw new KithError(ErrorCode.Usage, 'give --recovery-code CODE (- reads it from stdin), $KITH_RECOVERY_CODE, or --password');
    }
    if (recoveryCode !== undefined) parseRecoveryCode(recoveryCode); // a typo fails before the remote is touched
    const url = restoreUrl(o.remote, recoveryCode); // before a password is asked for that could not be used
    const secret = recoveryCode === undefined ? { password: await readSecret('KITH_PASSWORD', 'vault password: ') } : { recoveryCode };
    if (o.fromBackup !== undefined) {
      const opts = { secret, deviceName: o.name, ...staleAfterMs(o) };
      return restoreFromBackupFile(out, o.fromBackup, (fn) => fresh(cmd, url, true, fn), opts);
    }
    const vault = await underLocator(
      o.remote,
      url !== o.remote,
      fresh(cmd, url, false, (a) => Vault.restore({ ...a, ...secret, deviceName: o.name, ...staleAfterMs(o) })),
    );
    await vault.close();
    out.warnings(vault.warnings);
    out.result(
      { vaultId: vault.vaultId, deviceId: vault.deviceId, warnings: vault.warnings },
      () => `Joined vault ${vault.vaultId} as device ${vault.deviceId}. Run \`kith sync\` to fetch its data.`,
    );
  });

  staleAfterOption(
    program
      .command('join')
      .description('join a vault with a pairing code from one of its devices (`kith pair` there)')
      .argument('<code>', 'the pairing code the other device shows')
      .requiredOption('--remote <url>', 'where the vault lives (the same remote as the other device)')
      .option('--name <name>', 'a name for this device', 'device')
      .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)")
      .option('--timeout <seconds>', 'how long to wait for the other device', positiveInt('--timeout'), 600),
  ).action(async (code: string, o: { remote: string; name: string; timeout: number; staleAfter: number }, cmd: Command) => {
    const { out } = contextOf(cmd);
    assertNamesVault(o.remote, 'kith join');
    let sas = '';
    const vault = await fresh(cmd, o.remote, false, (a) =>
      Vault.join({
        ...a,
        code,
        deviceName: o.name,
        timeoutMs: o.timeout * 1000,
        ...staleAfterMs(o),
        onSas: (s) => {
          sas = s;
          out.note(`Check that the other device shows: ${s}\nWaiting for it to confirm...`);
        },
      }),
    );
    await vault.close();
    out.warnings(vault.warnings);
    out.result(
      { vaultId: vault.vaultId, deviceId: vault.deviceId, sas, warnings: vault.warnings },
      () => `Joined vault ${vault.vaultId} as device ${vault.deviceId}. Run \`kith sync\` to fetch its data.`,
    );
  });

  program
    .command('pair')
    .description('invite a new device: shows a one-time code to use with `kith join` there')
    .option('--timeout <seconds>', 'how long the code stays valid', positiveInt('--timeout'), 600)
    .option('--yes', 'admit the device without asking (for scripts)')
    .action(async (o: { timeout: number; yes?: boolean }, cmd: Command) => {
      const mins = Math.round(o.timeout / 60);
      await admitting(
        cmd,
        { command: 'kith pair', yes: o.yes, admits: 'the first device that joins', timeout: o.timeout },
        (vault, a) =>
          vault.devices.pair({
            timeoutMs: a.timeoutMs,
            signal: a.signal,
            onCode: (code) =>
              a.showCode(
                code,
                `Pairing code (valid ${mins} min, works once):\n\n    ${code}\n\nOn the new device run:  kith join ${code} --remote <same remote>\n`,
              ),
            confirm: (j, { signal }) =>
              a.confirm(`Device "${j.name}" (${j.deviceId}) wants to join. It shows: ${j.sas}`, `Does the other device show ${j.sas}? [y/N] `, signal),
          }),
        (joined) => `Added device "${joined.name}" (${joined.deviceId}).\n`,
      );
    });
}
