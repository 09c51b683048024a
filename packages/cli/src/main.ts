/**
 * @module main
 * The `kith` command line: parses arguments with commander, runs the
 * command, and turns every failure into one line and an exit code
 * (0 ok, 1 error, 2 usage).
 */
import { Command, CommanderError } from 'commander';
import { ErrorCode, KithError } from '@kith/core';
import { registerBackup } from './commands/backup.js';
import { registerBlobs } from './commands/blobs.js';
import { registerCheck } from './commands/check.js';
import { registerDevices } from './commands/devices.js';
import { registerHistory } from './commands/history.js';
import { registerRecords } from './commands/records.js';
import { registerRelay } from './commands/relay.js';
import { registerRetention } from './commands/retention.js';
import { registerSetup } from './commands/setup.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerSpaces } from './commands/spaces.js';
import { registerCompact } from './commands/compact.js';
import { registerSync } from './commands/sync.js';
import { describeError, quietOnClosedStdout } from './output.js';
import { checkArgvUtf8 } from './input.js';

/** The `kith` program with every command registered; it throws instead of exiting. */
export function buildProgram(): Command {
  const program = new Command('kith')
    .description('Kith: your data on all your devices, end-to-end encrypted, synced through a remote you do not have to trust')
    .version('0.1.0')
    .option('--home <dir>', "this device's data directory (default $KITH_HOME, else ~/.kith)")
    .option('--json', 'print exactly one JSON value on stdout')
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  registerSetup(program);
  registerRecords(program);
  registerSync(program);
  registerHistory(program);
  registerDevices(program);
  registerBlobs(program);
  registerCheck(program);
  registerSnapshot(program);
  registerCompact(program);
  registerRelay(program);
  registerBackup(program);
  registerRetention(program);
  registerSpaces(program);
  // Subcommands inherit the error handling and quiet output.
  for (const cmd of allCommands(program)) cmd.exitOverride().configureOutput({ writeErr: () => undefined });
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Runs the CLI; sets process.exitCode rather than exiting, so piped output is never cut short. */
export async function main(argv: readonly string[]): Promise<void> {
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  quietOnClosedStdout();
  const program = buildProgram();
  try {
    checkArgvUtf8();
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) {
        process.exitCode = 0; // --help, --version
        return;
      }
      // A group without its subcommand (`kith`, `kith blob`): commander's help went to the muted stderr.
      const message = e.code === 'commander.help' ? 'a command is missing' : e.message.replace(/^error: /, '').replace(/\.$/, '');
      process.stderr.write(describeError(new KithError(ErrorCode.Usage, message, { hint: 'see `kith --help`' }), debug, json).line + '\n');
      process.exitCode = 2;
      return;
    }
    const { line, exitCode } = describeError(e, debug, json);
    process.stderr.write(line + '\n');
    process.exitCode = exitCode;
  }
}
