/**
 * @module blobs/chunker
 * Content-defined chunking (FastCDC, Xia et al. 2016, with normalized
 * chunking): cut points depend on the bytes, so an edit in the middle of a
 * file changes only the chunks around it. The gear table is derived from a
 * vault key, so the remote cannot fingerprint known files from chunk sizes
 * (the attack restic mitigated in 0.18). There is no maintained JavaScript
 * FastCDC that takes a keyed table, hence this small implementation; it is
 * an algorithm, not a cryptographic primitive.
 */
import { hkdfSha256, utf8 } from '../crypto/index.js';

export const MIN_CHUNK = 256 * 1024;
export const AVG_CHUNK = 1024 * 1024;
export const MAX_CHUNK = 4 * 1024 * 1024;

// Normalized chunking (level 2) around the 1 MiB average: a mask with more
// one-bits before the average (cuts rarer), fewer after (cuts likelier).
/** A mask with `bits` one-bits spread evenly over the 32-bit hash. */
function spreadMask(bits: number): number {
  let m = 0;
  for (let i = 0; i < bits; i++) m |= 1 << Math.floor((i * 32) / bits);
  return m >>> 0;
}
/** 22 one-bits: strict, before the average size. */
const MASK_HARD = spreadMask(22);
/** 18 one-bits: lenient, after the average size. */
const MASK_EASY = spreadMask(18);

/** The 256-entry gear table for a key. */
export function gearTable(key: Uint8Array): Uint32Array {
  const bytes = hkdfSha256(key, new Uint8Array(0), utf8('kith/v1/cdc-gear'), 1024);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, 256).slice();
}

/** Cuts a stream of bytes into chunks; holds at most MAX_CHUNK bytes. */
export class Chunker {
  readonly #gear: Uint32Array;
  #buf = new Uint8Array(MAX_CHUNK);
  #len = 0;

  constructor(gear: Uint32Array) {
    this.#gear = gear;
  }

  /** Adds bytes; returns the chunks completed by them. */
  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(bytes.length - at, MAX_CHUNK - this.#len);
      this.#buf.set(bytes.subarray(at, at + take), this.#len);
      this.#len += take;
      at += take;
      for (;;) {
        const cut = this.#cutPoint(this.#len === MAX_CHUNK);
        if (cut === 0) break;
        out.push(this.#buf.slice(0, cut));
        this.#buf.copyWithin(0, cut, this.#len);
        this.#len -= cut;
      }
    }
    return out;
  }

  /** The last chunk (if any bytes remain). */
  end(): Uint8Array[] {
    if (this.#len === 0) return [];
    const last = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return [last];
  }

  /** A cut point within the buffered bytes, or 0 when more bytes are needed. */
  #cutPoint(full: boolean): number {
    const n = this.#len;
    if (n <= MIN_CHUNK) return 0;
    const g = this.#gear;
    const b = this.#buf;
    let h = 0;
    const normal = Math.min(n, AVG_CHUNK);
    let i = MIN_CHUNK;
    for (; i < normal; i++) {
      h = ((h << 1) + g[b[i]!]!) >>> 0;
      if ((h & MASK_HARD) === 0) return i + 1;
    }
    for (; i < n; i++) {
      h = ((h << 1) + g[b[i]!]!) >>> 0;
      if ((h & MASK_EASY) === 0) return i + 1;
    }
    return full ? n : 0;
  }
}
