/**
 * @module commands/setup
 * Making this home a device of a vault: init, restore, join, pair.
 */
import { createInterface } from 'node:readline/promises';
import { ErrorCode, KithError, parseRecoveryCode, Vault } from '@kith/core';
import type { Command } from 'commander';
import { homeBlobCache, homeDir, openHomeStore, withVault } from '../home.js';
import { normalizeRemoteUrl, openRemote } from '../remote-url.js';
import { readStdin } from '../input.js';
import { contextOf, positiveInt, staleAfterMs, staleAfterOption } from './shared.js';

/** Opens store and remote for a home that is about to join a vault; closes both on failure. */
async function fresh<T>(
  cmd: Command,
  url: string,
  create: boolean,
  fn: (a: { store: Awaited<ReturnType<typeof openHomeStore>>; remote: Awaited<ReturnType<typeof openRemote>>; remoteUrl: string; blobCache: ReturnType<typeof homeBlobCache> }) => Promise<T>,
): Promise<T> {
  const { opts } = contextOf(cmd);
  const remoteUrl = normalizeRemoteUrl(url);
  const store = await openHomeStore(opts);
  let remote;
  try {
    // Before the remote: `init` on a used home must not leave a new folder behind.
    if (await Vault.readConfig(store)) throw new KithError(ErrorCode.VaultExists, `${homeDir(opts)} already holds a vault`, { hint: 'use another --home for another device' });
    remote = await openRemote(remoteUrl, { create });
    const localPassphrase = (cmd.opts<{ localPassphrase?: boolean }>().localPassphrase ?? false) ? await readSecret('KITH_PASSPHRASE', 'local passphrase for this device: ') : undefined;
    return await fn({ store, remote, remoteUrl, blobCache: homeBlobCache(opts), ...(localPassphrase ? { localPassphrase } : {}) });
  } catch (e) {
    await remote?.close();
    await store.close();
    throw e;
  }
}

/** A password from $KITH_PASSWORD, else stdin's first line when piped, else a prompt. */
export function readPassword(prompt: string): Promise<string> {
  return readSecret('KITH_PASSWORD', prompt);
}

/** A secret from the environment variable, else stdin's first line when piped, else a prompt. */
export async function readSecret(variable: string, prompt: string): Promise<string> {
  const env = process.env[variable];
  if (env) return env;
  if (!process.stdin.isTTY) return (await readStdin()).split(/\r?\n/)[0] ?? '';
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await rl.question(prompt);
  } finally {
    rl.close();
  }
}

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new KithError(ErrorCode.Usage, 'cannot ask for confirmation without a terminal', { hint: 'pass --yes to confirm from a script' });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Adds `init`, `restore`, `join` and `pair` to the program. */
export function registerSetup(program: Command): void {
  program
    .command('init')
    .description('create a new vault on a remote, with this home as its first device')
    .requiredOption('--remote <url>', 'folder path, file:///dir or s3://bucket/prefix')
    .option('--name <name>', 'a name for this device', 'device')
    .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)")
    .action(async (o: { remote: string; name: string }, cmd: Command) => {
      const { out } = contextOf(cmd);
      const { vault, recoveryCode } = await fresh(cmd, o.remote, true, (a) => Vault.create({ ...a, deviceName: o.name }));
      await vault.close();
      out.result({ vaultId: vault.vaultId, deviceId: vault.deviceId, recoveryCode }, () =>
        [
          `Created vault ${vault.vaultId} on ${o.remote}; this device is ${vault.deviceId}.`,
          '',
          'Recovery code (shown only now; store it somewhere safe, e.g. a password manager or on paper):',
          '',
          `    ${recoveryCode}`,
          '',
          'Anyone with this code can read the vault; without it, losing every device loses the data.',
        ].join('\n'),
      );
    });

  staleAfterOption(program
    .command('restore')
    .description('join an existing vault as a new device with the recovery code or the vault password')
    .requiredOption('--remote <url>', 'where the vault lives')
    .option('--recovery-code <code>', 'the recovery code printed by `kith init`')
    .option('--password', 'use the vault password instead ($KITH_PASSWORD, stdin, or a prompt)')
    .option('--name <name>', 'a name for this device', 'device')
    .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)"))
    .action(async (o: { remote: string; recoveryCode?: string; password?: boolean; name: string; staleAfter: number }, cmd: Command) => {
      const { out } = contextOf(cmd);
      if ((o.recoveryCode === undefined) === (o.password === undefined)) {
        throw new KithError(ErrorCode.Usage, 'give exactly one of --recovery-code CODE and --password');
      }
      if (o.recoveryCode !== undefined) parseRecoveryCode(o.recoveryCode); // a typo fails before the remote is touched
      const secret = o.password ? { password: await readPassword('vault password: ') } : { recoveryCode: o.recoveryCode! };
      const vault = await fresh(cmd, o.remote, false, (a) => Vault.restore({ ...a, ...secret, deviceName: o.name, ...staleAfterMs(o) }));
      await vault.close();
      out.warnings(vault.warnings);
      out.result({ vaultId: vault.vaultId, deviceId: vault.deviceId, warnings: vault.warnings }, () => `Joined vault ${vault.vaultId} as device ${vault.deviceId}. Run \`kith sync\` to fetch its data.`);
    });

  staleAfterOption(program
    .command('join')
    .description('join a vault with a pairing code from one of its devices (`kith pair` there)')
    .argument('<code>', 'the pairing code the other device shows')
    .requiredOption('--remote <url>', 'where the vault lives (the same remote as the other device)')
    .option('--name <name>', 'a name for this device', 'device')
    .option('--local-passphrase', "seal this device's keys at rest with a passphrase ($KITH_PASSPHRASE or a prompt; give it again via $KITH_PASSPHRASE)")
    .option('--timeout <seconds>', 'how long to wait for the other device', positiveInt('--timeout'), 600))
    .action(async (code: string, o: { remote: string; name: string; timeout: number; staleAfter: number }, cmd: Command) => {
      const { out } = contextOf(cmd);
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
      out.result({ vaultId: vault.vaultId, deviceId: vault.deviceId, sas, warnings: vault.warnings }, () => `Joined vault ${vault.vaultId} as device ${vault.deviceId}. Run \`kith sync\` to fetch its data.`);
    });

  program
    .command('pair')
    .description('invite a new device: shows a one-time code to use with `kith join` there')
    .option('--timeout <seconds>', 'how long the code stays valid', positiveInt('--timeout'), 600)
    .option('--yes', 'admit the device without asking (for scripts)')
    .action(async (o: { timeout: number; yes?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const joined = await withVault(opts, (vault) =>
        vault.pair({
          timeoutMs: o.timeout * 1000,
          onCode: (code) => {
            if (out.json) out.line({ code });
            else process.stdout.write(`Pairing code (valid ${Math.round(o.timeout / 60)} min, works once):\n\n    ${code}\n\nOn the new device run:  kith join ${code} --remote <same remote>\n`);
          },
          confirm: async (j) => {
            out.note(`Device "${j.name}" (${j.deviceId}) wants to join. It shows: ${j.sas}`);
            if (o.yes) return true;
            return ask(`Does the other device show ${j.sas}? [y/N] `);
          },
        }),
      );
      if (out.json) out.line(joined);
      else process.stdout.write(`Added device "${joined.name}" (${joined.deviceId}).\n`);
    });

}
