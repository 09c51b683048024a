/**
 * @module blobs/chunker
 * Content-defined chunking (FastCDC, Xia et al. 2016, with normalized
 * chunking): cut points depend on the bytes, so an edit in the middle of a
 * file changes only the chunks around it. The gear table is derived from a
 * vault key, so the remote cannot fingerprint known files from chunk sizes
 * (the attack restic mitigated in 0.18). There is no maintained JavaScript
 * FastCDC that takes a keyed table, hence this small implementation; it is
 * an algorithm, not a cryptographic primitive.
 *
 * Speed: each byte is hashed once (the scan resumes where the last input
 * stopped), four bytes are loaded per read on little-endian machines, and
 * input is not copied unless a chunk spans several inputs.
 */
import { concatInto, hkdfSha256, utf8 } from '../crypto/index.js';

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

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Cuts a stream of bytes into chunks; holds at most MAX_CHUNK bytes of its
 * own. The chunks it returns may be views of the inputs, so an input must
 * not be modified after it is pushed (as with any stream's chunks). A chunk
 * that spans inputs is copied into a buffer from `alloc` (default: a new one).
 */
export class Chunker {
  // Int32: table lookups stay small integers in V8 (Uint32 values above 2^31 would be doubles).
  readonly #gear: Int32Array;
  /** Inputs (or their tails) that belong to the chunk being cut. */
  #pending: Uint8Array[] = [];
  /** Bytes of the chunk being cut, all hashed (or skipped below MIN_CHUNK). */
  #len = 0;
  #h = 0;
  readonly #alloc: (n: number) => Uint8Array;

  constructor(gear: Uint32Array, alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n)) {
    this.#gear = new Int32Array(gear.buffer, gear.byteOffset, 256).slice();
    this.#alloc = alloc;
  }

  /** Adds bytes; returns the chunks completed by them. */
  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let start = 0; // where the current chunk begins in `bytes` (when #pending is empty)
    let at = 0;
    while (at < bytes.length) {
      const len = this.#len;
      if (len < MIN_CHUNK) {
        const skip = Math.min(MIN_CHUNK - len, bytes.length - at);
        this.#len += skip;
        at += skip;
        continue;
      }
      const hard = len < AVG_CHUNK;
      const end = Math.min(bytes.length, at + (hard ? AVG_CHUNK : MAX_CHUNK) - len);
      const cut = this.#scan(bytes, at, end, hard ? MASK_HARD : MASK_EASY);
      const stop = cut < 0 ? end : cut;
      this.#len += stop - at;
      at = stop;
      if (cut >= 0 || this.#len === MAX_CHUNK) {
        out.push(this.#take(bytes.subarray(start, at)));
        start = at;
      }
    }
    if (start < bytes.length) this.#pending.push(bytes.subarray(start));
    return out;
  }

  /** The last chunk (if any bytes remain). */
  end(): Uint8Array[] {
    return this.#len === 0 ? [] : [this.#take(new Uint8Array(0))];
  }

  /** Closes the current chunk with `tail`; one copy only when it spans inputs. */
  #take(tail: Uint8Array): Uint8Array {
    const parts = tail.length > 0 ? [...this.#pending, tail] : this.#pending;
    this.#pending = [];
    this.#len = 0;
    this.#h = 0;
    return parts.length === 1 ? parts[0]! : concatInto(parts, this.#alloc);
  }

  /**
   * Hashes `b[from..to)` on from the saved state; returns the index just
   * after the first byte where `h & mask` is 0, or -1 (state saved).
   */
  #scan(b: Uint8Array, from: number, to: number, mask: number): number {
    const g = this.#gear;
    let h = this.#h;
    let i = from;
    if (LITTLE_ENDIAN) {
      // Bytes up to a 4-byte boundary, then whole words, then the rest.
      for (; i < to && (b.byteOffset + i) & 3; i++) {
        h = ((h << 1) + g[b[i]!]!) | 0;
        if ((h & mask) === 0) return i + 1;
      }
      const words = (to - i) >> 2;
      if (words > 0) {
        const w = new Int32Array(b.buffer, b.byteOffset + i, words);
        for (let j = 0; j < words; j++) {
          const x = w[j]!;
          h = ((h << 1) + g[x & 255]!) | 0;
          if ((h & mask) === 0) return i + 4 * j + 1;
          h = ((h << 1) + g[(x >>> 8) & 255]!) | 0;
          if ((h & mask) === 0) return i + 4 * j + 2;
          h = ((h << 1) + g[(x >>> 16) & 255]!) | 0;
          if ((h & mask) === 0) return i + 4 * j + 3;
          h = ((h << 1) + g[x >>> 24]!) | 0;
          if ((h & mask) === 0) return i + 4 * j + 4;
        }
        i += 4 * words;
      }
    }
    for (; i < to; i++) {
      h = ((h << 1) + g[b[i]!]!) | 0;
      if ((h & mask) === 0) return i + 1;
    }
    this.#h = h;
    return -1;
  }
}
