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
import { decodeHead, decodeSegment, MAX_SEGMENT_PAYLOAD, remoteKeys, ZERO_HASH_HEX, type Head } from '../format/index.js';
import { decodePayload } from '../model/ops.js';
import { refsIn } from '../blobs/blobs.js';
import { emptyCursor, emptyPush, META, readMeta, type Cursor, type PushMeta } from '../ports/store-meta.js';
import type { OwnChainMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { snapshotCovers } from '../sync/snapshot-cover.js';
import { readInOrder, type CheckRun } from './run.js';

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
  const revoked = run.registry.device(device)?.revoked;
  const top = Math.max(0, head?.seq ?? 0, ...listed.keys());
  if (!layout.heads.has(device) && listed.size > 0) {
    log.add('missing', headKey, ErrorCode.NotFound, `device ${device} has segments but no head`, 'other devices do not see its segments until it pushes again');
  }
  const restoreHint = await missingHint(run, device);
  // A gap at the start of a chain that a signed snapshot covers is compaction's (docs/FORMAT.md "Compaction").
  const compacted = await compactedOf(device, listed.size === 0 ? 1 : Math.min(...listed.keys()));
  let prev: string | undefined = ZERO_HASH_HEX; // hash of the previous segment, once verified
  let lastLocal: string | undefined;
  const readable = (seq: number): boolean => listed.has(seq) && !(revoked && seq > revoked.lastSeq);
  const toRead = [...listed.keys()].filter(readable).sort((x, y) => x - y);
  const reads = readInOrder(
    run,
    toRead.map((seq) => remoteKeys.segment(device, seq)),
  );
  for (let seq = 1; seq <= top; seq++) {
    const key = remoteKeys.segment(device, seq);
    // Without a verified head (missing or damaged, reported above) no segment is judged unreferenced.
    const named = head === undefined || seq <= head.seq;
    if (revoked && seq > revoked.lastSeq) {
      if (listed.has(seq)) {
        log.add(
          'foreign',
          key,
          ErrorCode.Revoked,
          `segment ${seq} of device ${device} was written after its revocation (it may write up to ${revoked.lastSeq})`,
          'every device ignores it; delete it',
        );
      }
      continue;
    }
    if (!listed.has(seq)) {
      if ((named || seq < top) && seq > compacted)
        log.add(
          'missing',
          key,
          ErrorCode.IntegrityChain,
          `segment ${seq} of device ${device} is missing`,
          `devices that have not pulled it cannot read this device's later writes; ${restoreHint(seq)}`,
        );
      prev = undefined;
      continue;
    }
    const bytes = (await reads.next()).value;
    if (!bytes) {
      prev = undefined;
      continue;
    }
    try {
      const seg = await decodeSegment(bytes, {
        vaultId: ctx.vaultId,
        deviceId: device,
        seq,
        signPub,
        epochKey: (e) => run.epochKeys.get(e),
        maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
      });
      const hash = bytesToHex(seg.hash);
      if (prev !== undefined && bytesToHex(seg.prevHash) !== prev) {
        log.add(
          'damaged',
          key,
          ErrorCode.IntegrityChain,
          `segment ${seq} of device ${device} does not follow segment ${seq - 1}`,
          `a segment was replaced or replayed; ${RESTORE}`,
        );
      } else if (head && seq === head.seq && hash !== bytesToHex(head.hash)) {
        log.add(
          'damaged',
          key,
          ErrorCode.IntegrityChain,
          `segment ${seq} of device ${device} is not the one its head names`,
          `the remote replaced the newest segment; ${RESTORE}`,
        );
      }
      const ops = decodePayload(seg.payload, lastLocal);
      lastLocal = ops.at(-1)?.t ?? lastLocal;
      for (const op of ops) refsIn(op.s, refs);
      prev = hash;
      log.counts.segments++;
      if (!named) {
        log.add(
          'unreferenced',
          key,
          ErrorCode.UnreferencedObject,
          `segment ${seq} of device ${device} comes after the one its head names (${head?.seq ?? 0})`,
          "left by an interrupted push; that device's next push completes it",
        );
      }
    } catch (e) {
      log.failed(key, e, RESTORE);
      prev = undefined;
      lastLocal = undefined;
    }
  }
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
