/**
 * @module commands/devices
 * devices (list, revoke, rename), password (set, change, remove), recovery rotate.
 */
import { checkPassword } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { readNewSecret } from '../secrets.js';
import { contextOf } from './shared.js';

/** Adds `devices`, `password`, `recovery` and `passphrase` to the program. */
export function registerDevices(program: Command): void {
  const devices = program
    .command('devices')
    .description('list the devices of the vault (and revoke or rename one)')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => v.devices.list({ refresh: true }));
      out.result(list, () =>
        list.map((d) => `${d.current ? '*' : ' '} ${d.deviceId}  ${d.name}${d.revoked ? '  (revoked)' : ''}  added ${d.addedAt} by ${d.addedBy}`).join('\n'),
      );
    });
  devices
    .command('revoke')
    .description('remove a device for good: it can read nothing written afterwards')
    .argument('<deviceId>')
    .action(async (deviceId: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.devices.revoke(deviceId));
      out.result({ ok: true, revoked: deviceId }, () => `revoked ${deviceId}; new data uses a key it never receives`);
    });
  devices
    .command('rename')
    .description('rename a device')
    .argument('<deviceId>')
    .argument('<name>')
    .action(async (deviceId: string, name: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.devices.rename(deviceId, name));
      out.result({ ok: true, deviceId, name }, () => 'renamed');
    });

  const password = program.command('password').description('a vault password: a second way back in beside the recovery code');
  for (const verb of ['set', 'change'] as const) {
    password
      .command(verb)
      .description(`${verb} the vault password ($KITH_PASSWORD, stdin, or a prompt asked twice)`)
      .action(async (_o: object, cmd: Command) => {
        const { opts, out } = contextOf(cmd);
        const pw = await readNewSecret('KITH_PASSWORD', 'new vault password', checkPassword);
        await withVault(opts, (v) => v.devices.setPassword(pw));
        out.result({ ok: true }, () => 'password set; `kith restore --password` now works too');
      });
  }
  password
    .command('remove')
    .description('remove the vault password (the recovery code keeps working)')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.devices.removePassword());
      out.result({ ok: true }, () => 'password removed');
    });

  const passphrase = program.command('passphrase').description("a local passphrase sealing this device's keys at rest");
  passphrase
    .command('set')
    .description(
      'seal (or re-seal) the keys with a new passphrase ($KITH_NEW_PASSPHRASE, stdin, or a prompt asked twice); the current one comes from $KITH_PASSPHRASE',
    )
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const next = await readNewSecret('KITH_NEW_PASSPHRASE', 'new local passphrase');
      await withVault(opts, (v) => v.setLocalPassphrase(next));
      out.result({ ok: true }, () => 'keys sealed; set KITH_PASSPHRASE to use this home');
    });
  passphrase
    .command('remove')
    .description('store the keys unsealed again (needs $KITH_PASSPHRASE)')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.setLocalPassphrase(null));
      out.result({ ok: true }, () => 'keys unsealed');
    });

  program
    .command('recovery')
    .description('the recovery code')
    .command('rotate')
    .description('issue a new recovery code; the old one stops working')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const recoveryCode = await withVault(opts, (v) => v.devices.rotateRecoveryCode());
      out.result({ recoveryCode }, () => `New recovery code (the old one no longer works; store this one safely):\n\n    ${recoveryCode}`);
    });
}
