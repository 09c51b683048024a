/**
 * Number formatting shared by the report's tables.
 * @module
 */
import type { Figures } from './measure.js';

/** `x` with thousands separators and `digits` decimals; '–' when missing. */
export const num = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Milliseconds with 2 decimals below 10, 1 below 100, none above. */
export const ms = (x: number | undefined): string => num(x, x !== undefined && x < 10 ? 2 : x !== undefined && x < 100 ? 1 : 0);
/** The bootstrap floor: inserting the rows into SQLite plus decrypting, inflating and parsing them. */
export const floorMs = (f: Figures): number | undefined =>
  f['insertMs'] === undefined || f['decryptMs'] === undefined ? undefined : f['insertMs'] + f['decryptMs'];
