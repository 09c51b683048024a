/**
 * @module sync/staleness
 * Signals that a remote may be serving an old state. A remote that rolls
 * everything back consistently (registry, heads, segments) cannot always be
 * caught: a device that joins then sees a valid vault, just an old one, and
 * if a revocation was hidden it writes under a key the revoked device holds.
 * What a device can notice, and reports as warnings (never errors: clocks
 * drift and devices go quiet): the newest signed head time is older than a
 * threshold; a head is older than one this device saw before (its own or
 * another device's); the registry records a revocation newer than every
 * head (the revoking device rewrites its head right after it).
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { remoteKeys, type Head } from '../format/index.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import type { StoreTx } from '../ports/store.js';
import type { EngineContext } from './context.js';
import { META, readMeta, writeMeta, type PushMeta } from '../ports/store-meta.js';
import type { OwnHeadLook } from './own-head.js';
import type { DeviceRegistry } from '../identity/registry.js';
import { WarningCode, type SyncWarning } from '../base/warnings.js';

const DAY = 24 * 3600 * 1000;
/** Default threshold: newest signed head older than this is reported. */
export const DEFAULT_STALE_AFTER_MS = 7 * DAY;
/** A device that syncs rewrites its head at least this often, so an old newest head means nobody synced, or a stale remote. */
export const HEAD_REFRESH_MS = DAY;

/** A head as a device last verified it (kept in the store, per device). */
export interface SeenHead {
  readonly etag: string;
  readonly seq: number;
  /** The newest signed time seen in this device's head (absent for version 1 heads). */
  readonly at?: number;
}

const SEEN_HEADS = 'heads.seen';
const iso = (ms: number): string => new Date(ms).toISOString();
const OLD_STATE_HINT =
  'if your devices synced more recently, the remote is serving an old state that may hide a revocation: do not set up new devices from it until it is restored (e.g. from its version history)';

/** Refuses a threshold that is not a positive number of milliseconds (Infinity turns the check off). */
export function checkStaleAfter(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_STALE_AFTER_MS;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms <= 0)
    throw new KithError(ErrorCode.BadInput, `staleAfterMs must be a positive number of milliseconds, got ${String(ms)}`);
  return ms;
}

/**
 * Warnings about the remote as a whole: its newest head is older than
 * `staleAfterMs`, or the registry holds a revocation newer than every head.
 * Heads without a time (version 1) count for neither, nor do heads of
 * revoked devices (a stolen device could keep writing fresh-looking heads
 * to cover a remote's rollback).
 */
export function remoteWarnings(o: {
  now: number;
  staleAfterMs: number;
  heads: readonly { device: string; at?: number }[];
  registry: DeviceRegistry;
}): SyncWarning[] {
  const out: SyncWarning[] = [];
  const heads = o.heads.filter((h) => !o.registry.device(h.device)?.revoked);
  let newest: { device: string; at: number } | undefined;
  for (const h of heads) if (h.at !== undefined && (!newest || h.at > newest.at)) newest = { device: h.device, at: h.at };
  if (newest && o.now - newest.at > o.staleAfterMs) {
    const days = Math.floor((o.now - newest.at) / DAY);
    out.push({
      code: WarningCode.StaleRemote,
      message: `the newest data on the remote was written ${days === 0 ? 'less than a day' : days === 1 ? '1 day' : `${days} days`} ago (${iso(newest.at)}, by device ${newest.device})`,
      hint: OLD_STATE_HINT,
    });
  }
  let revocation: { device: string; at: number } | undefined;
  for (const [device, d] of o.registry.devices()) if (d.revoked && (!revocation || d.revoked.at > revocation.at)) revocation = { device, at: d.revoked.at };
  const allTimed = heads.every((h) => h.at !== undefined);
  if (revocation && allTimed && (!newest || newest.at < revocation.at)) {
    out.push({
      code: WarningCode.HeadsBehindRegistry,
      message: `the device registry records the revocation of device ${revocation.device} at ${iso(revocation.at)}, but every head on the remote is older (${newest ? `newest ${iso(newest.at)}` : 'there is none'})`,
      hint: 'the remote is serving old heads, so data written since may be missing here; sync the revoking device again, or restore the remote from its version history',
    });
  }
  return out;
}

/**
 * What a pull learns about heads, and the warnings it draws: created before
 * the listing of `heads/` (so this device's own newest head time is read
 * before the remote is asked for its head), fed each verified head, then
 * finished once with the listing.
 */
export class HeadWatch {
  readonly #warnings: SyncWarning[] = [];
  /** Something new was seen: save it (an idle pull writes nothing more). */
  #changed = false;
  private constructor(
    private readonly ctx: EngineContext,
    private readonly seen: Record<string, SeenHead>,
    private readonly pushed: PushMeta,
  ) {}

  /** `pushed`: the push state as read before the listing (sync/own-head `loadOwnState`). */
  static async load(ctx: EngineContext, pushed: PushMeta): Promise<HeadWatch> {
    const seen = (await ctx.store.read((tx) => readMeta<Record<string, SeenHead>>(tx, SEEN_HEADS))) ?? {};
    return new HeadWatch(ctx, { ...seen }, pushed);
  }

  /**
   * Records another device's verified head; warns if it is older than one
   * seen before. Returns whether it is newer than every head of that device
   * seen before (a later segment or a later signed time).
   */
  saw(device: string, head: Head, etag: string): boolean {
    const before = this.seen[device];
    const fresh = !before || head.seq > before.seq || (head.at !== undefined && (before.at === undefined || head.at > before.at));
    if (head.at !== undefined && before?.at !== undefined && head.at < before.at) {
      this.#warnings.push({
        code: WarningCode.OldHead,
        message: `the remote served device ${device}'s head written at ${iso(head.at)}, older than the one this device saw before (${iso(before.at)})`,
        hint: OLD_STATE_HINT,
      });
    }
    // Keep the newest time seen: an old head served again must not lower the bar.
    const at = Math.max(head.at ?? -Infinity, before?.at ?? -Infinity);
    const seq = Math.max(head.seq, before?.seq ?? 0);
    this.seen[device] = Number.isFinite(at) ? { etag, seq, at } : { etag, seq };
    this.#changed = true;
    return fresh;
  }

  /**
   * Whether the own head listed as `info` must be read: its etag changed
   * or this device wrote a newer head since it last verified one (push
   * records the head it wrote, so an idle pull and the pull after a push
   * need no read).
   */
  wantsOwn(info: RemoteObjectInfo): boolean {
    const before = this.seen[this.ctx.deviceId];
    const wrote = this.pushed.headAt;
    // Etags may be content hashes: an old head served again can bring back an etag already seen.
    return before?.etag !== info.etag || (wrote !== undefined && (before.at === undefined || before.at < wrote));
  }

  /**
   * Warns if the pull's one look at this device's own head found it older
   * than the last head this device wrote. A damaged own head is left to
   * other devices, which refuse it, and to this device's next head write.
   */
  own(look: OwnHeadLook): void {
    const { info, read } = look;
    if (!info || !this.wantsOwn(info) || read.kind !== 'head') return;
    const { head, vs } = read;
    const wrote = this.pushed.headAt;
    if (vs.chain === 'behind' || vs.chain === 'forked' || vs.older) {
      this.#warnings.push({
        code: WarningCode.OldHead,
        message: `the remote served this device's own head ${head.at === undefined ? 'in an old format' : `written at ${iso(head.at)}`} (segment ${head.seq}), older than the one it wrote last (${wrote === undefined ? 'unknown time' : iso(wrote)}, segment ${this.pushed.seq})`,
        hint: OLD_STATE_HINT,
      });
    }
    this.seen[this.ctx.deviceId] =
      head.at === undefined ? { etag: info.etag, seq: head.seq } : { etag: info.etag, seq: head.seq, at: Math.max(head.at, wrote ?? 0) };
    this.#changed = true;
  }

  /** Saves what was seen (also when a pull fails half-way: a head verified then must count as seen by the next one). */
  async save(): Promise<void> {
    if (this.#changed) await this.ctx.store.write((tx) => writeMeta(tx, SEEN_HEADS, this.seen));
    this.#changed = false;
  }

  /** Saves what was seen and returns every warning of this pull, given the listing of `heads/`. */
  async finish(listed: readonly RemoteObjectInfo[]): Promise<SyncWarning[]> {
    await this.save();
    const heads = listed.flatMap((info) => {
      const device = info.key.slice(remoteKeys.headsPrefix.length);
      if (!this.ctx.registry.device(device)) return []; // strangers' heads are refused, not counted
      const at = this.seen[device]?.at;
      return [at === undefined ? { device } : { device, at }];
    });
    return [...this.#warnings, ...remoteWarnings({ now: this.ctx.deps.now(), staleAfterMs: this.ctx.staleAfterMs, heads, registry: this.ctx.registry })];
  }
}

/** Records the own head push just wrote as seen (its etag from a HEAD), so the next pull needs no GET to know it. */
export async function noteOwnHeadSeen(tx: StoreTx, deviceId: string, wrote: { etag: string; seq: number; at: number }): Promise<void> {
  const seen = (await readMeta<Record<string, SeenHead>>(tx, SEEN_HEADS)) ?? {};
  // Keep the newest time seen, as `saw` does.
  const at = Math.max(wrote.at, seen[deviceId]?.at ?? -Infinity);
  await writeMeta(tx, SEEN_HEADS, { ...seen, [deviceId]: { etag: wrote.etag, seq: wrote.seq, at } });
}

/** Every device of the registry for `status`, with the newest head time this device knows of it (its own: the last head it wrote). */
export async function deviceStatuses(tx: StoreTx, registry: DeviceRegistry, deviceId: string): Promise<DeviceStatus[]> {
  const seen = (await readMeta<Record<string, SeenHead>>(tx, SEEN_HEADS)) ?? {};
  const wrote = (await readMeta<PushMeta>(tx, META.push))?.headAt;
  return registry.devices().map(([id, d]) => {
    const times = [seen[id]?.at, id === deviceId ? wrote : undefined].filter((t): t is number => t !== undefined);
    return {
      deviceId: id,
      name: d.name,
      revoked: d.revoked !== undefined,
      current: id === deviceId,
      lastHeadAt: times.length === 0 ? null : new Date(Math.max(...times)).toISOString(),
    };
  });
}

/** One device of the vault in `status()`: registry facts and when its newest head known here was written. */
export interface DeviceStatus {
  readonly deviceId: string;
  readonly name: string;
  readonly revoked: boolean;
  /** This is the device the vault is open on. */
  readonly current: boolean;
  /** ISO time its newest head known to this device was signed (its own: the last one it wrote), or null. */
  readonly lastHeadAt: string | null;
}
