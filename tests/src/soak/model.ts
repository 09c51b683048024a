/**
 * @module soak/model
 * The reference model and the checker. The model is fed only with what
 * each device acknowledged (a command that exited 0, a call that resolved)
 * and what it may have done (a command killed or failed mid-way). Every
 * record the soak writes carries `w`, the round that wrote it, so the
 * checker compares rounds, not documents:
 * - every device converges to the same records;
 * - a device's own record holds its last acknowledged write, or a later
 *   unacknowledged one (never an older one: nothing acknowledged is lost);
 * - an import is all there or not at all (nothing half-applied);
 * - no revoked device holds anything written after its revocation, and
 *   nothing it wrote afterwards reaches anyone else;
 * - every refusal was a KithError / a one-line `KITH_*` message.
 */
import { createHash } from 'node:crypto';

/** A record as a device lists it. */
export type Rec = {
  readonly id: string;
  readonly w?: number;
  readonly by?: string;
  readonly ref?: string;
  readonly sha?: string;
  readonly [k: string]: unknown;
};

/** What a device holds: its own and imported records (`c`) and the records every device writes (`s`). */
export interface Dump {
  readonly c: readonly Rec[];
  readonly s: readonly Rec[];
}

/** The round of the last write a key holds; null: absent or deleted. */
type W = number | null;

interface OwnKey {
  acked: W;
  maybe: W[];
}

interface ImportRec {
  readonly device: string;
  readonly round: number;
  readonly lines: number;
  readonly acked: boolean;
}

export const importId = (device: string, round: number, line: number): string => `${device}-i${round}-${line}`;
export const blobRecordId = (device: string, round: number): string => `${device}-b${round}`;
export const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class Model {
  readonly #own = new Map<string, OwnKey>();
  readonly #shared = new Map<string, { values: Set<number>; acked: boolean }>();
  readonly #imports: ImportRec[] = [];
  readonly #blobs = new Map<string, { sha: string; acked: boolean }>();
  /** Revoked device → the round of its revocation. */
  readonly #revokedAt = new Map<string, number>();
  /** Writes acknowledged, by kind (the results' figure). */
  acknowledged = 0;
  readonly violations: string[] = [];

  /** A write of round `w` (null: a delete) by `device` ended: acked (true), or may or may not have happened (false). */
  write(device: string, key: string, w: W, acked: boolean): void {
    if (this.#revokedAt.has(device)) return; // its later writes must reach nobody: see check()
    if (acked) this.acknowledged++;
    const k = this.#own.get(key) ?? { acked: null, maybe: [] };
    if (acked) this.#own.set(key, { acked: w, maybe: [] });
    else this.#own.set(key, { acked: k.acked, maybe: [...k.maybe, w] });
  }

  shared(device: string, key: string, round: number, acked: boolean): void {
    if (this.#revokedAt.has(device)) return;
    if (acked) this.acknowledged++;
    const s = this.#shared.get(key) ?? { values: new Set<number>(), acked: false };
    s.values.add(round);
    s.acked ||= acked;
    this.#shared.set(key, s);
  }

  import(device: string, round: number, lines: number, acked: boolean): void {
    if (this.#revokedAt.has(device)) return;
    if (acked) this.acknowledged += lines;
    this.#imports.push({ device, round, lines, acked });
  }

  blob(device: string, round: number, bytes: Uint8Array, acked: boolean): void {
    if (this.#revokedAt.has(device)) return;
    if (acked) this.acknowledged++;
    this.#blobs.set(blobRecordId(device, round), { sha: sha256hex(bytes), acked });
    this.write(device, blobRecordId(device, round), round, acked);
    if (acked) this.acknowledged--; // counted once, as the blob
  }

  revoked(device: string, round: number): void {
    this.#revokedAt.set(device, round);
  }

  isRevoked(device: string): boolean {
    return this.#revokedAt.has(device);
  }

  /** Records a refusal that was not a clear `KITH_*` error. */
  unclear(where: string, what: string): void {
    this.violations.push(`${where}: refusal without a KITH_ code: ${what.slice(0, 300)}`);
  }

  /**
   * Checks the final dumps of every device still in the vault (`live`) and
   * of the revoked ones; returns the violations (empty: the run passed).
   */
  check(live: ReadonlyMap<string, Dump>, revoked: ReadonlyMap<string, Dump>): string[] {
    const out = [...this.violations];
    const names = [...live.keys()];
    const first = live.get(names[0]!)!;
    const canon = (d: Dump): string => JSON.stringify({ c: [...d.c].sort(byId), s: [...d.s].sort(byId) });
    for (const n of names.slice(1)) {
      if (canon(live.get(n)!) !== canon(first)) out.push(`devices ${names[0]} and ${n} did not converge: ${diff(first, live.get(n)!)}`);
    }
    for (const [name, dump] of live) out.push(...this.#checkDevice(name, dump));
    for (const [name, dump] of revoked) {
      const at = this.#revokedAt.get(name)!;
      for (const r of [...dump.c, ...dump.s]) {
        if (typeof r.w === 'number' && r.w > at && r.by !== name)
          out.push(`revoked device ${name} (round ${at}) holds ${r.id} written in round ${r.w} by ${String(r.by)}`);
      }
    }
    return out;
  }

  #checkDevice(name: string, dump: Dump): string[] {
    const out: string[] = [];
    const c = new Map(dump.c.map((r) => [r.id, r]));
    for (const [key, k] of this.#own) {
      const have = c.get(key)?.w ?? null;
      const allowed = [k.acked, ...k.maybe];
      if (!allowed.includes(have)) {
        out.push(
          `${name}: ${key} holds round ${String(have)}; acknowledged ${String(k.acked)}${k.maybe.length ? `, maybe ${k.maybe.map(String).join('/')}` : ''}`,
        );
      }
    }
    for (const imp of this.#imports) {
      let got = 0;
      for (let i = 0; i < imp.lines; i++) if (c.get(importId(imp.device, imp.round, i))?.w === imp.round) got++;
      if (got !== 0 && got !== imp.lines) out.push(`${name}: import of round ${imp.round} by ${imp.device} half-applied (${got} of ${imp.lines})`);
      if (imp.acked && got !== imp.lines) out.push(`${name}: acknowledged import of round ${imp.round} by ${imp.device} lost (${got} of ${imp.lines})`);
    }
    for (const [id, b] of this.#blobs) {
      const r = c.get(id);
      if (r && r.sha !== b.sha) out.push(`${name}: blob record ${id} names another content`);
    }
    // Nothing the model never heard of: a revoked device's late writes, or invented records.
    const known = (r: Rec): boolean => {
      if (this.#own.has(r.id) || this.#blobs.has(r.id)) return true;
      const m = /^(.+)-i(\d+)-(\d+)$/.exec(r.id);
      return !!m && this.#imports.some((i) => i.device === m[1] && i.round === Number(m[2]) && Number(m[3]) < i.lines);
    };
    for (const r of dump.c) if (!known(r)) out.push(`${name}: holds ${r.id} (round ${String(r.w)}), which no acknowledged or attempted write explains`);
    const s = new Map(dump.s.map((r) => [r.id, r]));
    for (const [key, v] of this.#shared) {
      const have = s.get(key)?.w;
      if (have === undefined ? v.acked : !v.values.has(have)) out.push(`${name}: shared ${key} holds round ${String(have)}, not one of the writes to it`);
    }
    for (const r of dump.s) if (!this.#shared.has(r.id)) out.push(`${name}: holds shared ${r.id}, never written`);
    return out;
  }
}

const byId = (a: Rec, b: Rec): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function diff(a: Dump, b: Dump): string {
  const m = new Map([...a.c, ...a.s].map((r) => [r.id, JSON.stringify(r)]));
  const n = new Map([...b.c, ...b.s].map((r) => [r.id, JSON.stringify(r)]));
  const ids = [...new Set([...m.keys(), ...n.keys()])].filter((id) => m.get(id) !== n.get(id));
  return `${ids.length} records differ, e.g. ${ids
    .slice(0, 3)
    .map((id) => `${id}: ${m.get(id) ?? 'absent'} vs ${n.get(id) ?? 'absent'}`)
    .join('; ')}`;
}

/** True when `text` (a CLI's stderr) is one line naming a `KITH_*` code. */
export function clearRefusal(text: string): boolean {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => !/^\(node:\d+\)|^\(Use `node --trace/.test(l));
  return lines.length === 1 && /\bKITH_[A-Z_]+\b/.test(lines[0]!);
}
