/**
 * @module ports/row-text
 * Column text a reader already holds for a row it parsed (a snapshot's
 * rows carry their fields' JSON text as read), attached under a symbol so
 * the row stays a plain {@link RecordRow} for every other store and caller.
 * A store that keeps fields as JSON text may bind it as is instead of
 * serializing the fields again; the text is valid JSON whose value equals
 * `fields`.
 */
import type { RecordRow } from '../model/merge.js';

const ROW_TEXT = Symbol('kith.rowText');

export interface RowText {
  /** The fields' JSON text. */
  readonly fields: string;
  /** True when the row's state is the one-write state of its fields and `updated` (model/one-write.ts). */
  readonly oneWrite: boolean;
}

/** `row` with `text` attached (not enumerable: copies and JSON leave it out). */
export function withRowText<R extends RecordRow>(row: R, text: RowText): R {
  Object.defineProperty(row, ROW_TEXT, { value: text });
  return row;
}

/** The text attached to `row`, if any. */
export function rowText(row: RecordRow): RowText | undefined {
  return (row as { [ROW_TEXT]?: RowText })[ROW_TEXT];
}
