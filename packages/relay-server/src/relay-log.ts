/**
 * @module server/relay-log
 * The relay's structured log: one JSON object a line. Events carry route
 * patterns, statuses and timings, never object bytes, object keys or
 * tokens, so a log can be shared without leaking what a vault holds.
 */

/** One log event. */
export interface RelayLogEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly [field: string]: string | number | boolean | undefined;
}

/** Where log events go. */
export type RelayLogger = (event: RelayLogEvent) => void;

/** A logger writing JSON lines (with a `time`) to `stream`, e.g. `process.stderr`. */
export function jsonLineLogger(stream: { write(s: string): unknown } = process.stderr, now: () => number = Date.now): RelayLogger {
  return (event) => void stream.write(`${JSON.stringify({ time: new Date(now()).toISOString(), ...event })}\n`);
}

/** A logger that drops everything (the default when embedding). */
export const silentLogger: RelayLogger = () => {};
