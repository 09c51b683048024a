/**
 * @module sync/own-head
 * One look per pull at this device's own head on the remote, shared by
 * repair (is it what this store pushed?) and staleness (is it older than
 * the head this device wrote last?): read at most once, decoded once and
 * compared once, and only when one of them cannot tell from the listed
 * etag. Push records the etag of the head it wrote for both, so an
 * unchanged own head costs no GET.
 */
import { hex } from '@scure/base';
import { isIntegrityError } from '../base/errors.js';
import { decodeHead, remoteKeys, type Head } from '../format/index.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import { getListed } from '../ports/capabilities.js';
import type { EngineContext } from './context.js';
import { emptyPush, META, readMeta, type OwnChainMeta, type PushMeta } from '../ports/store-meta.js';

/** How a verified own head stands against what this store pushed. */
export interface OwnHeadComparison {
  /** Its segment position: later, earlier, the same seq with another hash, or the same. */
  readonly chain: 'ahead' | 'behind' | 'forked' | 'same';
  /** It names an older registry position than the last head this store wrote. */
  readonly registryBehind: boolean;
  /** It is untimed or signed earlier than the last head this store wrote (which was timed). */
  readonly older: boolean;
}

/** What the one read of the own head found ('unread': neither repair nor staleness needed it). */
export type OwnHeadRead =
  { readonly kind: 'unread' | 'absent' | 'damaged' | 'unknown-signer' } | { readonly kind: 'head'; readonly head: Head; readonly vs: OwnHeadComparison };

export interface OwnHeadLook {
  /** The own head's entry in the `heads/` listing. */
  readonly info: RemoteObjectInfo | undefined;
  readonly read: OwnHeadRead;
  /** Push state and own-chain state, as read before the listing. */
  readonly pushed: PushMeta;
  readonly chain: OwnChainMeta;
}

export function compareOwnHead(head: Head, pushed: PushMeta): OwnHeadComparison {
  const chain = head.seq > pushed.seq ? 'ahead' : head.seq < pushed.seq ? 'behind' : head.seq > 0 && hex.encode(head.hash) !== pushed.hash ? 'forked' : 'same';
  const wrote = pushed.headAt;
  return { chain, registryBehind: head.registrySeq < (pushed.registrySeq ?? 0), older: wrote !== undefined && (head.at === undefined || head.at < wrote) };
}

/** Push and own-chain state, read before the `heads/` listing so a concurrent push cannot make the listed head look old. */
export async function loadOwnState(ctx: EngineContext): Promise<{ pushed: PushMeta; chain: OwnChainMeta }> {
  return ctx.store.read(async (tx) => ({
    pushed: (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush,
    chain: (await readMeta<OwnChainMeta>(tx, META.ownChain)) ?? { headEtag: '' },
  }));
}

/** Reads and compares the own head of a `heads/` listing if `wanted` says its etag alone does not tell. */
export async function lookAtOwnHead(
  ctx: EngineContext,
  state: { pushed: PushMeta; chain: OwnChainMeta },
  heads: readonly RemoteObjectInfo[],
  wanted: (info: RemoteObjectInfo) => boolean,
  signal?: AbortSignal,
): Promise<OwnHeadLook> {
  const info = heads.find((h) => h.key === remoteKeys.head(ctx.deviceId));
  const look = (read: OwnHeadRead): OwnHeadLook => ({ info, read, ...state });
  if (!info || !wanted(info)) return look({ kind: 'unread' });
  const bytes = await getListed(ctx.remote, info.key, info.etag, signal);
  if (!bytes) return look({ kind: 'absent' });
  const signPub = ctx.registry.deviceSignPub(ctx.deviceId);
  if (!signPub) return look({ kind: 'unknown-signer' }); // not in the registry we hold: pull refuses the vault elsewhere
  try {
    const head = await decodeHead(bytes, { vaultId: ctx.vaultId, deviceId: ctx.deviceId, signPub });
    return look({ kind: 'head', head, vs: compareOwnHead(head, state.pushed) });
  } catch (e) {
    if (isIntegrityError(e)) return look({ kind: 'damaged' });
    throw e;
  }
}
