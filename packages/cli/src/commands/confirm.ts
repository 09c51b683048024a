/**
 * @module commands/confirm
 * Admitting someone once a person compared six digits on both screens
 * (`kith pair`, `kith space invite`): a one-time code first, the admitted
 * one last (one JSON line each with --json); without a terminal only
 * `--yes` may admit, and Ctrl-C or SIGTERM cancels (the other side hears
 * at once).
 */
import { createInterface } from 'node:readline/promises';
import { ErrorCode, KithError, type Vault } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { contextOf } from './shared.js';

/** What the command gets while it waits for someone to answer. */
export interface Admission {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Shows the code: `{"code"}` with --json, else `human` (which says what to run with it). */
  showCode(code: string, human: string): void;
  /** Says who answered and what they show (stderr), then asks `question` on the terminal (yes with --yes); `signal` (default: the cancel signal) withdraws it. */
  confirm(note: string, question: string, signal?: AbortSignal): Promise<boolean>;
}

/**
 * Runs `admit` with the home's vault, SIGINT/SIGTERM cancelling it, then
 * prints who was admitted. Refused before a code exists when there is no
 * terminal and no `--yes`: otherwise someone could answer, then wait for a
 * confirmation nobody can give.
 */
export async function admitting<T>(
  cmd: Command,
  o: { command: string; yes?: boolean | undefined; admits: string; timeout: number },
  admit: (v: Vault, a: Admission) => Promise<T>,
  human: (admitted: T) => string,
): Promise<void> {
  const { opts, out } = contextOf(cmd);
  if (!o.yes && !process.stdin.isTTY) {
    throw new KithError(ErrorCode.Usage, `${o.command} asks you to compare six digits, and there is no terminal to ask on`, {
      hint: `run it in a terminal, or pass --yes to admit ${o.admits}`,
    });
  }
  const cancel = new AbortController();
  const onSignal = (): void => cancel.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  let admitted: T;
  try {
    admitted = await withVault(opts, (v) =>
      admit(v, {
        signal: cancel.signal,
        timeoutMs: o.timeout * 1000,
        showCode: (code, text) => (out.json ? out.line({ code }) : process.stdout.write(text)),
        confirm: (note, question, signal = cancel.signal) => {
          out.note(note);
          return o.yes ? Promise.resolve(true) : ask(question, signal, onSignal);
        },
      }),
    );
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  if (out.json) out.line(admitted);
  else process.stdout.write(human(admitted));
}

/** A yes/no question on the terminal; Ctrl-C there calls `onInterrupt`, and `signal` withdraws the question. */
async function ask(question: string, signal: AbortSignal, onInterrupt: () => void): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on('SIGINT', onInterrupt);
  try {
    return /^y(es)?$/i.test((await rl.question(question, { signal })).trim());
  } finally {
    rl.close();
  }
}
