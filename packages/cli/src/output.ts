/**
 * @module output
 * How the CLI speaks: one JSON value on stdout with --json, readable text
 * otherwise, and errors as one line `kith: <message>[; <hint>] (KITH_<CODE>)`
 * on stderr (a stack trace only with --debug).
 */
import { ErrorCode, KithError } from '@kith/core';

const closedReader = new AbortController();

/** Aborted when whoever reads stdout goes away (`kith ls | head`): `sync --watch` stops then. */
export const stdoutClosed: AbortSignal = closedReader.signal;

/**
 * A reader that stops early (EPIPE) is not an error of ours: no crash, no
 * stack trace; what follows is simply not printed.
 */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closedReader.abort();
  });
}

/** The global options every command understands. */
export interface GlobalOptions {
  readonly home?: string;
  readonly json?: boolean;
  readonly debug?: boolean;
}

/** Prints a command's results on stdout and its notes on stderr, in text or JSON. */
export class Output {
  constructor(readonly opts: GlobalOptions) {}

  get json(): boolean {
    return this.opts.json === true;
  }

  /** Prints the command's result: `value` as JSON with --json, else `human()`. */
  result(value: unknown, human?: () => string): void {
    if (this.json || !human) process.stdout.write(JSON.stringify(value, null, this.json ? undefined : 2) + '\n');
    else {
      const text = human();
      if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** One JSON line (for streams of results: sync --watch, pair). */
  line(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  }

  /**
   * Warnings (signs that the remote serves an old state) go to stderr, one
   * line each, with --json too: a script reads them in the result's
   * `warnings`, a person in the terminal.
   */
  warnings(warnings: readonly { code: string; message: string; hint: string }[] | undefined): void {
    for (const w of warnings ?? []) process.stderr.write(oneLine(`kith: warning: ${w.message}; ${w.hint} (${w.code})`) + '\n');
  }

  /** Human-facing notes go to stderr so stdout stays clean for scripts. */
  note(text: string): void {
    if (!this.json) process.stderr.write(text + '\n');
  }
}

/** The one line printed for an error, and the exit code it gets. */
export function describeError(e: unknown, debug: boolean): { line: string; exitCode: number } {
  if (e instanceof KithError) {
    const msg = oneLine(e.hint ? `${e.message}; ${e.hint}` : e.message);
    return { line: `kith: ${msg} (${e.code})` + (debug && e.stack ? `\n${e.stack}` : ''), exitCode: e.code === ErrorCode.Usage ? 2 : 1 };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { line: `kith: ${oneLine(err.message)} (${ErrorCode.Internal})` + (debug && err.stack ? `\n${err.stack}` : ''), exitCode: 1 };
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');
