/**
 * @module check/segments
 * Heads and segment chains, checked as a pull checks them (signed head,
 * every segment's name, signature, chain, decryption and payload), but
 * for every device from segment 1, and without applying anything. Blob
 * refs met in the ops are collected for the blob check.
 */
import { bytesToHex } from '../crypto/index.js';
import { ErrorCode } from '../base/errors.js';
import { throwIfAborted } from '../ports/remote.js';
import { decodeHead, decodeSegment, MAX_SEGMENT_PAYLOAD, remoteKeys, type Head } from '../format/index.js';
import { decodePayload } from '../model/ops.js';
import { refsIn } from '../blobs/blobs.js';
import { emptyCursor, emptyPush, META, readMeta, type Cursor, type PushMeta } from '../ports/store-meta.js';
import type { OwnChainMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { snapshotCovers } from '../sync/snapshot-cover.js';
import type { CheckRun } from './run.js';
import { walkSegmentChain } from './segment-chain.js';

const RESTORE = 'restore it from another copy of the remote';

/**
 * Checks every device's head and segments; adds every blob ref an op sets
 * to `refs`. Returns the heads that verified, by device (the snapshot check
 * judges manifests against them). `snapshots` opens manifests for the
 * covers (a context that keeps what it learns to the check).
 */
export async function checkSegments(run: CheckRun, refs: Set<string>, snapshots: EngineContext): Promise<Map<string, Head>> {
  const heads = new Map<string, Head>();
  const devices = new Set([...run.layout.heads.keys(), ...run.layout.segments.keys()]);
  let covers: Promise<Map<string, number>> | undefined; // read once, and only if some chain starts with a gap
  const compacted = async (device: string, first: number): Promise<number> =>
    first <= 1 ? 0 : Math.min(first - 1, (await (covers ??= snapshotCovers(snapshots, run.signal ?? undefined))).get(device) ?? 0);
  for (const device of [...devices].sort()) {
    throwIfAborted(run.signal);
    const head = await checkDevice(run, device, refs, compacted);
    if (head) heads.set(device, head);
  }
  return heads;
}

async function checkDevice(
  run: CheckRun,
  device: string,
  refs: Set<string>,
  compactedOf: (device: string, first: number) => Promise<number>,
): Promise<Head | undefined> {
  const { log, layout, ctx } = run;
  const headKey = remoteKeys.head(device);
  const listed = layout.segments.get(device) ?? new Map<number, string>();
  const signPub = run.registry.deviceSignPub(device);
  if (!signPub) {
    const why = `device ${device} is not in the vault's device registry`;
    const hint = 'no device of this vault wrote it, and every device ignores it; delete it';
    if (layout.heads.has(device)) log.add('foreign', headKey, ErrorCode.IntegrityUnknownSigner, `the head of ${why}`, hint);
    for (const key of listed.values()) log.add('foreign', key, ErrorCode.IntegrityUnknownSigner, `a segment of ${why}`, hint);
    return undefined;
  }
  const head = layout.heads.has(device) ? await checkHead(run, device) : undefined;
  if (!layout.heads.has(device) && listed.size > 0) {
    log.add('missing', headKey, ErrorCode.NotFound, `device ${device} has segments but no head`, 'other devices do not see its segments until it pushes again');
  }
  const restoreHint = await missingHint(run, device);
  // A gap at the start of a chain that a signed snapshot covers is compaction's (docs/FORMAT.md "Compaction").
  const compacted = await compactedOf(device, listed.size === 0 ? 1 : Math.min(...listed.keys()));
  const revoked = run.registry.device(device)?.revoked;
  let lastLocal: string | undefined; // the stamp of the device's previous op: stamps must increase across segments
  await walkSegmentChain(run, {
    subject: `device ${device}`,
    listed,
    keyOf: (seq) => remoteKeys.segment(device, seq),
    head,
    restore: RESTORE,
    ...(revoked ? { writableUpTo: revoked.lastSeq } : {}),
    missingHint: (seq) => (seq > compacted ? `devices that have not pulled it cannot read this device's later writes; ${restoreHint(seq)}` : undefined),
    decode: (bytes, seq) =>
      decodeSegment(bytes, {
        vaultId: ctx.vaultId,
        deviceId: device,
        seq,
        signPub,
        epochKey: (e) => run.epochKeys.get(e),
        maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
      }),
    // A segment whose link is broken is still read once reported: the blob refs it sets still count for the blob check.
    brokenLink: 'report',
    accept: (seg) => {
      const ops = decodePayload(seg.payload, lastLocal);
      lastLocal = ops.at(-1)?.t ?? lastLocal;
      for (const op of ops) refsIn(op.s, refs);
      log.counts.segments++;
    },
    failed: () => void (lastLocal = undefined),
  });
  return head;
}

/** What to do about a missing segment of `device`: this device puts back its own from the copies it keeps (sync/repair). */
async function missingHint(run: CheckRun, device: string): Promise<(seq: number) => string> {
  const { ctx } = run;
  if (device !== ctx.deviceId) return () => RESTORE;
  const { kept, lost } = await ctx.store.read(async (tx) => ({
    kept: new Set(await tx.listOwnSegments()),
    lost: new Set((await readMeta<OwnChainMeta>(tx, META.ownChain))?.lost ?? []),
  }));
  return (seq) =>
    kept.has(seq)
      ? 'this device keeps a copy and puts it back when it next audits its own segments (on a sync, within a day)'
      : lost.has(seq)
        ? 'no copy is left (lost before this device kept its segments); restore it from another copy of the remote if there is one'
        : RESTORE;
}

/** Verifies a head against the registry and what this device has applied or pushed; undefined if it does not verify. */
async function checkHead(run: CheckRun, device: string): Promise<Head | undefined> {
  const { log, ctx } = run;
  const key = remoteKeys.head(device);
  const bytes = await run.read(key);
  if (!bytes) return undefined;
  let head: Head;
  try {
    head = await decodeHead(bytes, { vaultId: ctx.vaultId, deviceId: device, signPub: run.registry.deviceSignPub(device)! });
  } catch (e) {
    log.failed(key, e, `${RESTORE}; the device's next push rewrites it`);
    return undefined;
  }
  log.counts.heads++;
  const reg = run.registry;
  if (head.registrySeq > reg.seq) {
    log.add(
      'missing',
      remoteKeys.registryEntry(reg.seq + 1),
      ErrorCode.IntegrityChain,
      `device ${device}'s head names registry entry ${head.registrySeq}, but the remote's verified registry ends at ${reg.seq}`,
      'registry entries were removed or damaged; restore them',
    );
  } else if (head.registrySeq > 0 && reg.state.hashes[head.registrySeq - 1] !== bytesToHex(head.registryHash)) {
    log.add(
      'damaged',
      remoteKeys.registryEntry(head.registrySeq),
      ErrorCode.IntegrityChain,
      `registry entry ${head.registrySeq} differs from the one device ${device}'s head names`,
      'the registry forked; restore the original entry',
    );
  }
  const hash = bytesToHex(head.hash);
  const own = device === ctx.deviceId;
  const { local, ownChain } = await ctx.store.read(async (tx) => ({
    local: own ? ((await readMeta<PushMeta>(tx, META.push)) ?? emptyPush) : ((await readMeta<Cursor>(tx, META.cursor(device))) ?? emptyCursor),
    ownChain: own ? await readMeta<OwnChainMeta>(tx, META.ownChain) : undefined,
  }));
  const mine = own ? 'this device pushed' : 'this device applied';
  // This device's own push stopped between a segment and its head: the next push writes the head. A dirty
  // head is also how the repair asks for a rewrite of a head the remote rolled back; that one is not the
  // head this device last wrote (another etag), and other devices refuse it until then.
  const lastWritten = ownChain?.headEtag ?? '';
  const headPending = 'headDirty' in local && local.headDirty && (lastWritten === '' || lastWritten === run.layout.heads.get(device)?.etag);
  if (head.seq < local.seq && !headPending) {
    log.add(
      'damaged',
      key,
      ErrorCode.IntegrityRollback,
      `device ${device}'s head names segment ${head.seq}, but ${mine} up to ${local.seq}`,
      'the remote replayed an older head or lost segments; restore the newer head and its segments',
    );
  } else if (head.seq === local.seq && local.seq > 0 && local.hash !== hash) {
    log.add(
      'damaged',
      key,
      ErrorCode.IntegrityChain,
      `device ${device}'s head names another segment ${head.seq} than the one ${mine}`,
      'the remote holds a forked history for this device',
    );
  }
  return head;
}
