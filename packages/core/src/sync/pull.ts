/**
 * @module sync/pull
 * Pull: one LIST of `heads/` (O(1) requests when nothing moved, whatever
 * the history), then for each device whose head moved: verify the signed
 * head, fetch the new segments in order, check signature, chain and
 * decryption, and apply them together with the cursor advance in one
 * transaction. A device whose chain fails verification is refused (nothing
 * from the bad object is applied); other devices still sync, and the first
 * integrity error is raised at the end.
 */
import { hex } from '@scure/base';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { decodeHead, remoteKeys, ZERO_HASH_HEX } from '../format/index.js';
import { isDeviceId, stampDevice, stampLocal, HybridClock } from '../model/hlc.js';
import { decodePayload, type Op } from '../model/ops.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import { canGetMany, getListed } from '../ports/capabilities.js';
import { applyRemoteOps } from './apply.js';
import { PULL_APPLY_OPS, PULL_BATCH, PULL_CONCURRENCY, type EngineContext } from './context.js';
import { emptyCursor, META, readMeta, writeMeta, type Cursor, type StatusMeta } from '../ports/store-meta.js';
import { catchUpRegistry } from './catch-up.js';
import { loadOwnState, lookAtOwnHead } from './own-head.js';
import { ownHeadUnverified, repairOwnChain } from './repair.js';
import { fetchSegments, openSegment } from './segments.js';
import { HeadWatch } from './staleness.js';
import { AckBook } from './acks.js';
import type { SyncWarning } from '../base/warnings.js';
import type { HeadsRead } from '../identity/heads-read.js';

/** `reason` of the error for a segment missing below a device's head: compaction's, if a snapshot covers it (see snapshot/merge). */
export const SEGMENT_MISSING = 'segment-missing';

export interface PullOutcome {
  /** Ops applied. */
  pulled: number;
  /** Collections that changed. */
  collections: Set<string>;
  /** Every device's chain is at its head (no errors, nothing left). */
  complete: boolean;
  /** Signs that the remote serves an old state (see sync/staleness). */
  warnings: SyncWarning[];
}

interface Moved {
  device: string;
  info: RemoteObjectInfo;
  cursor: Cursor;
  headSeq: number;
  headHash: string;
  /** What the cursor takes at the head (see `headEtag`). */
  etags: Pick<Cursor, 'etag' | 'pending'>;
}

/**
 * `given`: the heads the caller listed and read just before (see vault/syncer: a first pull's bootstrap
 * shares them), taken instead of a listing and reads of this pull's own while this device has pushed
 * nothing (its own head then cannot have moved since); every head is verified again as if read now.
 */
export async function pull(ctx: EngineContext, signal?: AbortSignal, given?: HeadsRead): Promise<PullOutcome> {
  const opts = signal ? { signal } : {};
  const ownState = await loadOwnState(ctx);
  const watch = await HeadWatch.load(ctx, ownState.pushed);
  const acks = await AckBook.load(ctx);
  const handed = given && ownState.pushed.seq === 0 ? given : undefined;
  const heads = handed ? [...handed.listing] : await ctx.remote.list(remoteKeys.headsPrefix, opts);
  const cursors = await ctx.store.read(async (tx) => {
    const out = new Map<string, Cursor>();
    for (const h of heads) {
      const device = h.key.slice(remoteKeys.headsPrefix.length);
      if (isDeviceId(device)) out.set(device, (await readMeta<Cursor>(tx, META.cursor(device))) ?? emptyCursor);
    }
    return out;
  });
  // Our own chain first: what the remote lost of it goes back before anyone else needs it.
  // One read of it at most, for repair and staleness both.
  const own = await lookAtOwnHead(ctx, ownState, heads, (info) => ownHeadUnverified(ownState, info) || watch.wantsOwn(info), signal);
  await repairOwnChain(ctx, own, signal);
  const outcome: PullOutcome = { pulled: 0, collections: new Set(), complete: true, warnings: [] };
  let firstError: Error | undefined;
  const moved: Moved[] = [];
  try {
    for (const info of heads) {
      const device = info.key.slice(remoteKeys.headsPrefix.length);
      if (device === ctx.deviceId) watch.own(own);
      if (device === ctx.deviceId || !isDeviceId(device)) continue;
      const cursor = cursors.get(device) ?? emptyCursor;
      if (cursor.etag !== '' && cursor.etag === info.etag) continue; // idle: nothing moved
      try {
        const m = await readHead(ctx, device, info, cursor, { watch, acks, read: handed?.bytes.get(info.key) }, signal);
        if (m) moved.push(m);
      } catch (e) {
        if (!isIntegrityError(e)) throw e;
        firstError ??= e as Error;
        outcome.complete = false;
      }
    }
    const total = moved.reduce((n, m) => n + (m.headSeq - m.cursor.seq), 0);
    let done = 0;
    for (const m of moved) {
      try {
        done = await pullDevice(ctx, m, outcome, done, total, signal);
      } catch (e) {
        if (!isIntegrityError(e)) throw e;
        firstError ??= e as Error;
        outcome.complete = false;
      }
    }
  } catch (e) {
    // A head verified before the failure counts as seen (see `headEtag`), and so do its acknowledgements.
    await watch.save().catch(() => undefined);
    await acks.save().catch(() => undefined);
    throw e;
  }
  await ctx.store.write(async (tx) => {
    const status = await readMeta<StatusMeta>(tx, META.status);
    await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, caughtUp: false, ...status, lastPull: new Date(ctx.deps.now()).toISOString() });
  });
  outcome.warnings = await watch.finish(heads);
  await acks.save();
  if (firstError) throw firstError;
  return outcome;
}

/** Verifies a device's head; returns what moved, or undefined if nothing is to be fetched. */
async function readHead(
  ctx: EngineContext,
  device: string,
  info: RemoteObjectInfo,
  cursor: Cursor,
  { watch, acks, read }: { watch: HeadWatch; acks: AckBook; read?: Uint8Array | undefined },
  signal?: AbortSignal,
): Promise<Moved | undefined> {
  if (!ctx.registry.device(device) && (await ctx.registry.sync(ctx.remote, undefined, signal)) > 0) await ctx.saveRegistry();
  const signPub = ctx.registry.deviceSignPub(device);
  if (!signPub) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `device ${device} wrote to the vault but is not in its device registry`, {
      hint: 'they are ignored; if a device was set up recently, the remote may have shown it an old state that hid a revocation: set that device up again from scratch',
      reason: 'unknown-writer',
    });
  }
  const bytes = read ?? (await getListed(ctx.remote, info.key, info.etag, signal));
  if (!bytes) return undefined; // vanished between list and get: nothing to do now
  const head = await decodeHead(bytes, { vaultId: ctx.vaultId, deviceId: device, signPub });
  const etags = headEtag(cursor, info.etag, watch.saw(device, head, info.etag));
  acks.saw(device, head);
  // The head names the registry its writer had seen: we must have at least that much.
  await catchUpRegistry(ctx, signal, { seq: head.registrySeq, hash: head.registryHash, by: device });
  const headHash = hex.encode(head.hash);
  if (head.seq < cursor.seq) {
    throw new KithError(ErrorCode.IntegrityRollback, `device ${device}'s head went back from segment ${cursor.seq} to ${head.seq}`, {
      hint: 'the remote replayed an older head; restore the newer one (nothing was applied)',
    });
  }
  // A revoked device's segments after its revocation point are refused, silently and identically everywhere.
  const revoked = ctx.registry.device(device)?.revoked;
  const lastSeq = revoked ? Math.min(head.seq, revoked.lastSeq) : head.seq;
  if (head.seq === cursor.seq && head.seq > 0 && headHash !== cursor.hash) {
    throw new KithError(ErrorCode.IntegrityChain, `device ${device}'s head names a different segment ${head.seq} than the one already applied`, {
      hint: 'the remote holds a forked history for this device',
    });
  }
  if (lastSeq <= cursor.seq) {
    await ctx.store.write((tx) => writeMeta<Cursor>(tx, META.cursor(device), { seq: cursor.seq, hash: cursor.hash, stamp: cursor.stamp, ...etags }));
    return undefined;
  }
  return { device, info, cursor, headSeq: lastSeq, headHash: lastSeq === head.seq ? headHash : '', etags };
}

/**
 * The etags the cursor takes after reading a head listed under `listed`.
 * A remote may serve an older head than the one it lists (a rollback, or a
 * restored copy); pairing the listed etag with those bytes would make every
 * later pull skip the head behind it for good. So the pairing is trusted
 * when the head read is newer than any seen of that device before (what a
 * moved etag means on an honest remote), or when the same etag listed again
 * reads no newer again (an object rewritten unchanged): one more read, once.
 */
function headEtag(cursor: Cursor, listed: string, fresh: boolean): Pick<Cursor, 'etag' | 'pending'> {
  return fresh || cursor.pending === listed ? { etag: listed } : { etag: cursor.etag, pending: listed };
}

/** A segment that passed every check, decoded, waiting to be applied. */
interface Verified {
  seq: number;
  hash: string;
  ops: Op[];
}

/**
 * Fetches, verifies and applies a device's new segments in order. Segments
 * are fetched a batch at a time, then checked and decoded one by one and
 * applied in groups of up to {@link PULL_APPLY_OPS} ops, each group with its
 * cursor advance in one transaction: nothing from a bad segment or after it
 * is applied, the verified segments before it are.
 */
async function pullDevice(ctx: EngineContext, m: Moved, outcome: PullOutcome, done: number, total: number, signal?: AbortSignal): Promise<number> {
  const signPub = ctx.registry.deviceSignPub(m.device)!;
  let prevHash = m.cursor.hash;
  let lastLocal = m.cursor.stamp === '' ? undefined : stampLocal(m.cursor.stamp);
  const step = canGetMany(ctx.remote) ? PULL_BATCH : PULL_CONCURRENCY;
  let group: Verified[] = [];
  let groupOps = 0;
  const applyGroup = async (): Promise<void> => {
    const last = group[group.length - 1]!;
    const applied = await applySegments(ctx, m, group, last.seq === m.headSeq ? m.etags : { etag: '' });
    outcome.pulled += applied.count;
    for (const c of applied.collections) outcome.collections.add(c);
    done += group.length;
    group = [];
    groupOps = 0;
    ctx.progress({ phase: 'pull', done, total, device: m.device });
  };
  for (let from = m.cursor.seq + 1; from <= m.headSeq; from += step) {
    signal?.throwIfAborted();
    const seqs = Array.from({ length: Math.min(step, m.headSeq - from + 1) }, (_, i) => from + i);
    const fetched = await fetchSegments(ctx, m.device, seqs, signal);
    for (const [i, seq] of seqs.entries()) {
      const bytes = fetched[i];
      if (!bytes) {
        throw new KithError(ErrorCode.IntegrityChain, `device ${m.device}'s segment ${seq} is missing from the remote`, {
          hint: 'its head names a later segment; the remote lost or withholds this one (nothing after it was applied)',
          reason: SEGMENT_MISSING,
        });
      }
      fetched[i] = null; // its bytes go once checked
      const seg = await openSegment(ctx, m.device, signPub, seq, bytes);
      const expectedPrev = seq === 1 ? ZERO_HASH_HEX : prevHash;
      if (hex.encode(seg.prevHash) !== expectedPrev) {
        throw new KithError(ErrorCode.IntegrityChain, `device ${m.device}'s segment ${seq} does not follow segment ${seq - 1}`, {
          hint: 'a segment was replaced, reordered or replayed on the remote (nothing from it was applied)',
        });
      }
      const hash = hex.encode(seg.hash);
      if (seq === m.headSeq && m.headHash !== '' && hash !== m.headHash) {
        throw new KithError(ErrorCode.IntegrityChain, `device ${m.device}'s segment ${seq} is not the one its head names`, {
          hint: 'the remote replaced the newest segment (nothing from it was applied)',
        });
      }
      const ops = decodePayload(seg.payload, lastLocal);
      if (ops.length > 0) lastLocal = ops[ops.length - 1]!.t;
      prevHash = hash;
      if (group.length > 0 && groupOps + ops.length > PULL_APPLY_OPS) await applyGroup();
      group.push({ seq, hash, ops });
      groupOps += ops.length;
    }
  }
  if (group.length > 0) await applyGroup();
  return done;
}

/** Applies verified segments and advances the cursor, in one transaction. */
async function applySegments(
  ctx: EngineContext,
  m: Moved,
  segments: readonly Verified[],
  etags: Pick<Cursor, 'etag' | 'pending'>,
): Promise<{ count: number; collections: string[] }> {
  return ctx.store.write(async (tx) => {
    const cursor = (await readMeta<Cursor>(tx, META.cursor(m.device))) ?? emptyCursor;
    const todo = segments.filter((s) => s.seq > cursor.seq); // another process may have applied some
    if (todo.length === 0) return { count: 0, collections: [] };
    const applied = new Map<string, string>();
    const appliedOf = async (device: string): Promise<string> => {
      let s = applied.get(device);
      if (s === undefined) {
        s = device === ctx.deviceId ? '\uffff' : ((await readMeta<Cursor>(tx, META.cursor(device)))?.stamp ?? '');
        applied.set(device, s);
      }
      return s;
    };
    // Predecessors may name any device: load their cursors before the synchronous merge.
    for (const seg of todo) for (const op of seg.ops) for (const list of Object.values(op.r ?? {})) for (const p of list) await appliedOf(stampDevice(p));
    await appliedOf(m.device);
    const isApplied = (stamp: string): boolean => {
      const max = applied.get(stampDevice(stamp));
      return max !== undefined && max !== '' && stamp <= max;
    };
    const collections = new Set<string>();
    let count = 0;
    let stamp = cursor.stamp;
    const hlc = (await readMeta<{ last: string }>(tx, META.hlc))?.last;
    const clock = new HybridClock(ctx.deps.now, hlc);
    for (const seg of todo) {
      const onApplied = (s: string): void => {
        applied.set(m.device, s);
        stamp = s;
      };
      count += await applyRemoteOps(tx, seg.ops, m.device, isApplied, onApplied, collections);
      const lastOp = seg.ops[seg.ops.length - 1];
      if (lastOp) clock.observe(lastOp.t);
    }
    const last = todo[todo.length - 1]!;
    await writeMeta<Cursor>(tx, META.cursor(m.device), { seq: last.seq, hash: last.hash, stamp, ...etags });
    await writeMeta(tx, META.hlc, { last: clock.last });
    return { count, collections: [...collections] };
  });
}
