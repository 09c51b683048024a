/**
 * @module secrets
 * Reading passwords, passphrases and recovery codes without leaving them
 * where others look: never echoed on a terminal, never required on the
 * command line (where `ps` and shell history keep them). Each comes from
 * its environment variable, else the next line of piped stdin, else a
 * hidden prompt; a new secret typed at a prompt is asked twice.
 */
import { ErrorCode, KithError } from '@kith/core';
import { readStdin } from './input.js';

let pipedLines: Promise<string[]> | undefined;

/** The next line of piped stdin: several secrets of one command come one per line, in the order they are asked. */
async function nextPipedLine(): Promise<string> {
  const lines = await (pipedLines ??= readStdin().then((t) => t.split(/\r?\n/)));
  return lines.shift() ?? '';
}

/**
 * Reads one line from the terminal with echo off (raw mode), so neither
 * the screen nor a recording of it shows what was typed. Backspace and
 * Ctrl-U edit; Ctrl-C and Ctrl-D on an empty line cancel.
 */
export async function hiddenPrompt(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: whatever is typed once it is visible stays hidden.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  stdin.setEncoding('utf8');
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed: string[] = [];
      const finish = (settle: () => void): void => {
        stdin.off('data', onData);
        settle();
      };
      const onData = (chunk: string): void => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') return finish(() => resolve(typed.join('')));
          if (ch === '\u0003' || (ch === '\u0004' && typed.length === 0))
            return finish(() => reject(new KithError(ErrorCode.Aborted, 'cancelled at the prompt; nothing was changed')));
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else if (ch === '\u0015') typed = [];
          else if (ch >= ' ') typed.push(ch);
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

/** An existing secret: `$variable`, else the next piped stdin line, else a hidden prompt. */
export async function readSecret(variable: string, prompt: string): Promise<string> {
  const env = process.env[variable];
  if (env) return env;
  if (!process.stdin.isTTY) return nextPipedLine();
  return hiddenPrompt(prompt);
}

/**
 * A new secret, read like {@link readSecret}; at a prompt it is asked a
 * second time, and two different entries change nothing. `check` refuses
 * a bad one before the second entry is asked for.
 */
export async function readNewSecret(variable: string, what: string, check?: (secret: string) => void): Promise<string> {
  const fromTerminal = !process.env[variable] && process.stdin.isTTY === true;
  const secret = await readSecret(variable, `${what}: `);
  if (secret === '')
    throw new KithError(ErrorCode.BadInput, `the ${what} is empty; nothing was changed`, {
      hint: `set $${variable}, pipe it on stdin, or type it at the prompt`,
    });
  check?.(secret);
  if (fromTerminal && (await hiddenPrompt(`${what} again: `)) !== secret) {
    throw new KithError(ErrorCode.BadInput, `the two ${what} entries differ; nothing was changed`, { hint: 'run the command again' });
  }
  return secret;
}

/**
 * The recovery code of `kith restore`: `--recovery-code CODE`, or `-` to
 * read it from stdin (a hidden prompt on a terminal), or $KITH_RECOVERY_CODE
 * when the option is absent. Undefined when none of them gives one.
 */
export async function recoveryCodeFrom(option: string | undefined): Promise<string | undefined> {
  if (option === '-') return process.stdin.isTTY ? hiddenPrompt('recovery code: ') : nextPipedLine();
  return option ?? (process.env['KITH_RECOVERY_CODE'] || undefined);
}
