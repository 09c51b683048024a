/**
 * @module output
 * How the CLI speaks: one JSON value on stdout with --json, readable text
 * otherwise, and errors as one line on stderr: `kith: <message>[; <hint>]
 * (KITH_<CODE>)`, or one JSON object with --json (a stack trace only with
 * --debug).
 */
import { ErrorCode, KithError } from '@kith/core';
import { cliHint } from './hints.js';

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

/** An error as the JSON object --json prints on stderr: `{"error":{"code","message","hint"?}}` (`stack` too under --debug). */
export function errorJson(e: unknown, debug = false): { error: { code: string; message: string; hint?: string; stack?: string } } {
  const err = asKithError(e);
  const hint = cliHint(err);
  const stack = debug && e instanceof Error ? e.stack : undefined;
  return { error: { code: err.code, message: oneLine(err.message), ...(hint ? { hint: oneLine(hint) } : {}), ...(stack ? { stack } : {}) } };
}

/**
 * The one line printed for an error, and the exit code it gets: text, or
 * with --json the object of {@link errorJson}, which scripts parse.
 */
export function describeError(e: unknown, debug: boolean, json = false): { line: string; exitCode: number } {
  const err = asKithError(e);
  const exitCode = err.code === ErrorCode.Usage ? 2 : 1;
  if (json) return { line: JSON.stringify(errorJson(e, debug)), exitCode };
  const hint = cliHint(err);
  const stack = debug && e instanceof Error ? e.stack : undefined;
  return { line: `kith: ${oneLine(hint ? `${err.message}; ${hint}` : err.message)} (${err.code})` + (stack ? `\n${stack}` : ''), exitCode };
}

/** Anything thrown that is not a KithError is a bug: KITH_INTERNAL with its message. */
const asKithError = (e: unknown): KithError =>
  e instanceof KithError ? e : new KithError(ErrorCode.Internal, e instanceof Error ? e.message : String(e), { cause: e });

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');
