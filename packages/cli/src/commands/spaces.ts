/**
 * @module commands/spaces
 * Sharing with other people: `kith space create|ls|invite|join|members|role|remove|leave|sync`.
 * Each maps one to one to `vault.spaces.*` (see docs/design/lifetime-and-spaces.md).
 */
import { ErrorCode, KithError, ROLES, type Role, type Vault } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { admitting } from './confirm.js';
import { contextOf, positiveInt } from './shared.js';

/** A role argument or option: admin, writer or reader. */
function role(v: string): Role {
  if (!(ROLES as readonly string[]).includes(v)) throw new KithError(ErrorCode.Usage, `a role is admin, writer or reader, not ${JSON.stringify(v)}`);
  return v as Role;
}

/** `on` or `off`. */
function onOff(v: string): boolean {
  if (v !== 'on' && v !== 'off') throw new KithError(ErrorCode.Usage, `say on or off, not ${JSON.stringify(v)}`);
  return v === 'on';
}

/**
 * A person given by personId or by the name they go by in the space (one
 * member only): `kith space remove family bob` reads better than an id.
 * Anything else goes to the core as given, which says it is unknown.
 */
async function personOf(v: Vault, space: string, person: string): Promise<string> {
  const members = await v.spaces.members(space);
  if (members.some((m) => m.personId === person)) return person;
  const named = members.filter((m) => m.name === person);
  if (named.length > 1)
    throw new KithError(ErrorCode.BadInput, `${named.length} members of ${space} are named ${JSON.stringify(person)}`, {
      hint: `give the personId instead (\`kith space members ${space}\` lists them)`,
    });
  return named[0]?.personId ?? person;
}

const ok = { ok: true } as const;

/** Adds `space` and its subcommands to the program. */
export function registerSpaces(program: Command): void {
  const space = program.command('space').description('spaces: records shared with other people, each with its members, roles and keys');

  space
    .command('create')
    .description('create a space with you as its admin (its data lives next to your vault on the same remote)')
    .argument('<name>')
    .action(async (name: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const created = await withVault(opts, (v) => v.spaces.create(name));
      out.result(created, () => `Created space "${created.name}" (${created.spaceId}). Invite people with: kith space invite ${created.spaceId}`);
    });

  space
    .command('ls')
    .description('the spaces you are a member of, and whether this device keeps each')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => v.spaces.list());
      out.result(
        list,
        () =>
          list.map((s) => `${s.spaceId}  ${s.name}  ${s.role}  ${s.members} member(s)${s.synced ? '' : '  (not kept on this device)'}`).join('\n') ||
          'no spaces',
      );
    });

  space
    .command('invite')
    .description('invite a person: shows a one-time code for `kith space join` on one of their devices')
    .argument('<space>', 'name or spaceId')
    .option('--role <role>', 'admin, writer or reader', role, 'writer' as Role)
    .option('--yes', 'admit the person without asking (for scripts)')
    .option('--timeout <seconds>', 'how long the code stays valid', positiveInt('--timeout'), 600)
    .action(async (spaceName: string, o: { role: Role; yes?: boolean; timeout: number }, cmd: Command) => {
      const mins = Math.round(o.timeout / 60);
      await admitting(
        cmd,
        { command: 'kith space invite', yes: o.yes, admits: 'the first person who answers', timeout: o.timeout },
        (v, a) =>
          v.spaces.invite(spaceName, {
            role: o.role,
            timeoutMs: a.timeoutMs,
            signal: a.signal,
            onCode: (code) =>
              a.showCode(
                code,
                `Invite code for ${spaceName} as ${o.role} (valid ${mins} min, works once):\n\n    ${code}\n\nOn one of their devices run:  kith space join '${code}'\n`,
              ),
            confirm: (sas, who) =>
              a.confirm(
                `"${who.name}" (${who.personId}) wants to join ${spaceName} as ${o.role}. Their device shows: ${sas}`,
                `Does their device show ${sas}? [y/N] `,
              ),
          }),
        (admitted) => `Added "${admitted.name}" (${admitted.personId}) to ${spaceName} as ${admitted.role}.\n`,
      );
    });

  space
    .command('join')
    .description('join a space with the code an admin showed you (`kith space invite` there); all your devices get it')
    .argument('<code>', 'the invite code, with the address after its @')
    .option('--name <name>', 'your name as the other members see it')
    .option('--timeout <seconds>', 'how long to wait for the admin to confirm', positiveInt('--timeout'), 600)
    .action(async (code: string, o: { name?: string; timeout: number }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const joined = await withVault(opts, (v) =>
        v.spaces.join(code, {
          ...(o.name !== undefined ? { name: o.name } : {}),
          timeoutMs: o.timeout * 1000,
          onSas: (sas) => out.note(`Check that the admin's device shows: ${sas}\nWaiting for them to confirm...`),
        }),
      );
      out.result(joined, () => `Joined space "${joined.name}" (${joined.spaceId}) as ${joined.role}. Run \`kith sync\` to fetch its data.`);
    });

  space
    .command('members')
    .description('the members of a space, their roles and how many devices each has')
    .argument('<space>', 'name or spaceId')
    .action(async (spaceName: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => v.spaces.members(spaceName));
      out.result(list, () => list.map((m) => `${m.personId}  ${m.name}  ${m.role}  ${m.devices} device(s)`).join('\n'));
    });

  space
    .command('role')
    .description("change a member's role (admins only)")
    .argument('<space>', 'name or spaceId')
    .argument('<person>', 'personId, or the name of one member')
    .argument('<role>', 'admin, writer or reader', role)
    .action(async (spaceName: string, person: string, newRole: Role, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, async (v) => v.spaces.setRole(spaceName, await personOf(v, spaceName, person), newRole));
      out.result(ok, () => `${person} is now ${newRole} in ${spaceName}`);
    });

  space
    .command('remove')
    .description('remove a member (admins only): a new key that their devices never receive protects what is written afterwards')
    .argument('<space>', 'name or spaceId')
    .argument('<person>', 'personId, or the name of one member')
    .action(async (spaceName: string, person: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, async (v) => v.spaces.remove(spaceName, await personOf(v, spaceName, person)));
      out.result(ok, () => `removed ${person} from ${spaceName}; new data uses a key they never receive`);
    });

  space
    .command('leave')
    .description('leave a space (on all your devices)')
    .argument('<space>', 'name or spaceId')
    .action(async (spaceName: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.spaces.leave(spaceName));
      out.result(ok, () => `left ${spaceName}`);
    });

  space
    .command('sync')
    .description('keep a space on this device (on) or not (off); other devices choose for themselves')
    .argument('<space>', 'name or spaceId')
    .argument('<on|off>', 'on or off', onOff)
    .action(async (spaceName: string, on: boolean, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, (v) => v.spaces.setSynced(spaceName, on));
      out.result(ok, () => (on ? `${spaceName} is kept on this device; \`kith sync\` fetches it` : `${spaceName} is no longer synced on this device`));
    });
}
