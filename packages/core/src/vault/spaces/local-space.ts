/**
 * @module vault/spaces/local-space
 * One shared space as this device keeps it: its own Store (records,
 * history, outbox, clock), its remote, its verified SpaceState (the
 * membership and epoch positions pinned in the store's meta, so a remote
 * rolling them back is caught across sessions), and push and pull through
 * `pushSpaceSegment` / `readSpaceSegments` and the personal space's apply
 * code. Records are the Vault's own Records over this store.
 */
import type { Deps } from '../../base/deps.js';
import { ErrorCode, KithError } from '../../base/errors.js';
import { stampDevice, HybridClock } from '../../model/hlc.js';
import { decodePayload, type Op } from '../../model/ops.js';
import { bytesEqual } from '../../crypto/index.js';
import { decodeSegment, MAX_SEGMENT_PAYLOAD, peekSegmentEpoch } from '../../format/segment.js';
import type { Remote } from '../../ports/remote.js';
import type { OutboxEntry, Store } from '../../ports/store.js';
import { b64, readMeta, unb64, writeMeta } from '../../ports/store-meta.js';
import { applyRemoteOps } from '../../sync/apply.js';
import { MAX_OPS_PER_SEGMENT } from '../../sync/context.js';
import { takeBatch } from '../../sync/push.js';
import {
  assertMayWrite,
  pushSpaceSegment,
  readSpaceSegments,
  spaceSegmentKey,
  SPACE_CHAIN_START,
  type SpaceChainPos,
  type SpaceCursor,
  type SpaceReadResult,
} from '../../spaces/space-segments.js';
import { SpaceState } from '../../spaces/space-state.js';
import { signInToSpace, type SpaceActor } from '../../spaces/space-ops.js';
import type { Role } from '../../spaces/membership-entry.js';
import { VaultEmitter } from '../events.js';
import { Records } from '../records.js';
import { ownEpochKey } from './older-keys.js';
import { spaceBlobs } from './space-blobs.js';
import type { SpaceBlobs } from './space-records.js';

/** Meta entries of a space's store (a store holds one space). */
const SPACE_META = {
  /** `{ spaceId, url }`: which space this store holds. */
  space: 'space',
  /** This device's chain of segments in the space: `{ seq, hash }`. */
  chain: 'space.chain',
  /** Where this device stands in every other device's chain: deviceId → `{ seq, hash, lastStamp? }`. */
  cursors: 'space.cursors',
  /** The membership and epoch positions verified last: a shorter or forked chain later is a rollback or a fork. */
  pins: 'space.pins',
  /** This person's role and the member count as last verified (for `spaces.list()` without the network). */
  summary: 'space.summary',
  hlc: 'hlc',
} as const;

type Pos = { seq: number; hash: string };
type StoredCursor = Pos & { lastStamp?: string };
interface Pins {
  m: Pos;
  e: { count: number; hash: string };
}
export interface SpaceSummary {
  role: Role | null;
  members: number;
  /** The members as verified (absent from stores written before it was kept). */
  people?: VerifiedMember[];
}
/** A member as verified: what `spaces.members()` shows, offline too (names are the space's records). */
export interface VerifiedMember {
  personId: string;
  role: Role;
  /** Devices in the member's newest certificate. */
  devices: number;
}

export class LocalSpace {
  readonly records: Records;
  readonly state: SpaceState;
  readonly events = new VaultEmitter();
  /** The state was caught up with the remote in this session. */
  #fresh = false;
  #me: SpaceActor | undefined;
  /** Positions at which earlier epochs' keys were shared with the person's devices this session (see older-keys.ts). */
  readonly olderKeysShared = new Set<string>();
  readonly #actor: () => Promise<SpaceActor>;

  /** `actor` is loaded on the first network call (it reads the person's identity): local reads and writes work offline. */
  constructor(
    readonly spaceId: string,
    readonly url: string,
    readonly store: Store,
    readonly remote: Remote,
    deviceId: string,
    actor: () => Promise<SpaceActor>,
    readonly deps: Deps,
  ) {
    this.state = serializedRefresh(new SpaceState(spaceId));
    this.records = new Records({ store, deps, events: this.events, ctx: { deviceId } });
    this.#actor = actor;
  }

  #blobs: SpaceBlobs | undefined;

  /** The space's attachments (made on first use). */
  blobs(): SpaceBlobs {
    return (this.#blobs ??= spaceBlobs(this));
  }

  /** This device acting for its person (after {@link ready}). */
  get me(): SpaceActor {
    if (!this.#me) throw new KithError(ErrorCode.Internal, 'internal error: the space was used before its actor was loaded');
    return this.#me;
  }

  /** Loads the actor and signs in to the space's remote with the device key. */
  async ready(): Promise<SpaceActor> {
    if (!this.#me) {
      this.#me = await this.#actor();
      // On a relay, until a verified certificate lists this device it reads as its person (see signIn).
      signInToSpace(this.remote, this.spaceId, this.#me, 'person');
    }
    return this.#me;
  }

  /** Opens a space's store and notes which space it holds (a store of another space is refused). */
  static async open(
    spaceId: string,
    url: string,
    store: Store,
    remote: Remote,
    deviceId: string,
    actor: () => Promise<SpaceActor>,
    deps: Deps,
  ): Promise<LocalSpace> {
    await store.write(async (tx) => {
      const held = await readMeta<{ spaceId: string; url: string }>(tx, SPACE_META.space);
      if (held && held.spaceId !== spaceId) throw new KithError(ErrorCode.BadInput, `the store given for space ${spaceId} holds space ${held.spaceId}`);
      if (!held) await writeMeta(tx, SPACE_META.space, { spaceId, url });
    });
    return new LocalSpace(spaceId, url, store, remote, deviceId, actor, deps);
  }

  /**
   * Signs in to the space's remote (a relay) as this device once the
   * person's newest verified certificate lists it, else as the person
   * (reading, and writing their own certificate: a new device's first
   * sync, or a session that has verified nothing yet).
   */
  #signIn(): void {
    const me = this.me;
    const certs = this.state.certs(me.person.personId);
    const listed = certs?.deviceAt(me.deviceId, certs.version);
    signInToSpace(this.remote, this.spaceId, me, listed && bytesEqual(listed.signPub, me.signPub) ? 'device' : 'person');
  }

  /** Catches the state up with the remote (once per session unless `again`), checking the pinned positions and noting the summary. */
  async refresh(again = false): Promise<SpaceState> {
    if (this.#fresh && !again) return this.state;
    await this.ready();
    await this.state.refresh(this.remote);
    this.#signIn();
    const pins = await this.store.read((tx) => readMeta<Pins>(tx, SPACE_META.pins));
    if (pins) {
      this.state.m.checkPin({ seq: pins.m.seq, hash: unb64(pins.m.hash) });
      this.state.epochs.checkPin({ count: pins.e.count, hash: unb64(pins.e.hash) });
    }
    await this.store.write(async (tx) => {
      await writeMeta<Pins>(tx, SPACE_META.pins, this.#pins());
      await writeMeta<SpaceSummary>(tx, SPACE_META.summary, this.summaryNow());
    });
    this.#fresh = true;
    return this.state;
  }

  #pins(): Pins {
    const m = this.state.m.pin;
    const e = this.state.epochs.pin;
    return { m: { seq: m.seq, hash: b64(m.hash) }, e: { count: e.count, hash: b64(e.hash) } };
  }

  summaryNow(): SpaceSummary {
    const people = this.state.m
      .members()
      .map((m) => ({ personId: m.personId, role: m.role, devices: this.state.certs(m.personId)?.at()?.devices.length ?? 0 }));
    return { role: this.state.m.member(this.me.person.personId)?.role ?? null, members: people.length, people };
  }

  /** The members as this session verified them, else (offline since a restart) as verified last, from the store. */
  async verifiedMembers(): Promise<VerifiedMember[]> {
    if (this.state.m.seq > 0) return this.summaryNow().people!;
    return (await this.summary())?.people ?? [];
  }

  /** The summary as last verified (from the store). */
  summary(): Promise<SpaceSummary | undefined> {
    return this.store.read((tx) => readMeta<SpaceSummary>(tx, SPACE_META.summary));
  }

  /** Refuses locally what members would refuse (KITH_FORBIDDEN, KITH_REMOVED, KITH_REVOKED), from the state as last caught up. */
  async assertMayWrite(): Promise<void> {
    await this.refresh().catch(() => undefined); // offline: judged on what was verified before
    if (!this.#me) {
      // Offline before any verification this session: judged on the role verified last (the push checks again).
      if ((await this.summary())?.role === 'reader') {
        throw new KithError(ErrorCode.Forbidden, `you are a reader of space ${this.spaceId}: you cannot write to it`, { reason: 'reader' });
      }
      return;
    }
    assertMayWrite(this.state, { personId: this.me.person.personId, deviceId: this.me.deviceId });
  }

  /** Sends this device's pending writes in the space, a segment at a time; returns the number of ops sent. */
  async push(): Promise<number> {
    await this.ready();
    let pushed = 0;
    for (;;) {
      const { entries, chain } = await this.store.read(async (tx) => ({
        entries: await tx.readOutbox(MAX_OPS_PER_SEGMENT),
        chain: await readMeta<Pos>(tx, SPACE_META.chain),
      }));
      if (entries.length === 0) return pushed;
      const batch = takeBatch(entries);
      const from = chain ? { seq: chain.seq, hash: unb64(chain.hash) } : SPACE_CHAIN_START;
      let pos: SpaceChainPos;
      try {
        pos = await pushSpaceSegment(this.remote, { state: this.state, me: this.me, ops: batch.map((e) => e.op as unknown as Op), chain: from }, this.deps);
      } catch (e) {
        // A crash after an upload and before the store noted it leaves the outbox behind the remote's chain: take that segment as sent.
        if (!KithError.is(e, ErrorCode.BadInput) || !(await this.#adoptUploaded(from, entries))) throw e;
        continue;
      }
      this.#fresh = true;
      await this.store.write(async (tx) => {
        await tx.deleteOutbox(batch[batch.length - 1]!.seq);
        await writeMeta<Pos>(tx, SPACE_META.chain, { seq: pos.seq, hash: b64(pos.hash) });
        await writeMeta<Pins>(tx, SPACE_META.pins, this.#pins());
      });
      pushed += batch.length;
    }
  }

  /**
   * The remote holds this device's segment after `from` (uploaded before a
   * crash kept the store from noting it): if it is ours, follows `from` and
   * holds the outbox's first ops (by stamp), those leave the outbox and the
   * chain moves to it. False when it is anything else.
   */
  async #adoptUploaded(from: SpaceChainPos, entries: readonly OutboxEntry[]): Promise<boolean> {
    const seq = from.seq + 1;
    const bytes = await this.remote.get(spaceSegmentKey(this.me.deviceId, seq));
    const epoch = bytes ? peekSegmentEpoch(bytes) : undefined;
    if (!bytes || epoch === undefined) return false;
    const epochKey = await ownEpochKey(this.remote, this.state, this.me, epoch);
    if (!epochKey) return false;
    const seg = await decodeSegment(bytes, {
      vaultId: this.spaceId,
      deviceId: this.me.deviceId,
      seq,
      space: true,
      signPub: this.me.signPub,
      epochKey: () => epochKey,
      maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
    });
    if (!bytesEqual(seg.prevHash, from.hash)) return false;
    const ops = decodePayload(seg.payload, undefined);
    if (ops.length === 0 || ops.length > entries.length || ops.some((op, i) => op.t !== (entries[i]!.op as unknown as Op).t)) return false;
    await this.store.write(async (tx) => {
      await tx.deleteOutbox(entries[ops.length - 1]!.seq);
      await writeMeta<Pos>(tx, SPACE_META.chain, { seq, hash: b64(seg.hash) });
    });
    return true;
  }

  /** Reads and applies what other devices wrote in the space; returns the ops applied, and what was refused (see space-refusals.ts). */
  async pull(): Promise<{ pulled: number; collections: string[]; refused: SpaceReadResult['refused'] }> {
    await this.ready();
    const stored = await this.store.read(async (tx) => ({
      cursors: (await readMeta<Record<string, StoredCursor>>(tx, SPACE_META.cursors)) ?? {},
      pins: await readMeta<Pins>(tx, SPACE_META.pins),
    }));
    const cursors = new Map<string, SpaceCursor>(
      Object.entries(stored.cursors).map(([d, c]) => [d, { seq: c.seq, hash: unb64(c.hash), ...(c.lastStamp ? { lastStamp: c.lastStamp } : {}) }]),
    );
    const p = stored.pins;
    const read = await readSpaceSegments(this.remote, {
      state: this.state,
      me: { personId: this.me.person.personId, deviceId: this.me.deviceId, boxSecret: this.me.boxSecret },
      cursors,
      ...(p ? { pins: { membership: { seq: p.m.seq, hash: unb64(p.m.hash) }, epochs: { count: p.e.count, hash: unb64(p.e.hash) } } } : {}),
    });
    this.#fresh = true;
    const collections = new Set<string>();
    const pulled = await this.store.write(async (tx) => {
      const applied = appliedStamps(stored.cursors, this.me.deviceId);
      const isApplied = (stamp: string): boolean => {
        const max = applied.get(stampDevice(stamp));
        return max !== undefined && max !== '' && stamp <= max;
      };
      const clock = new HybridClock(this.deps.now, (await readMeta<{ last: string }>(tx, SPACE_META.hlc))?.last);
      let n = 0;
      for (const seg of read.segments) {
        n += await applyRemoteOps(tx, seg.ops, seg.deviceId, isApplied, (s) => applied.set(seg.deviceId, s), collections);
        const last = seg.ops[seg.ops.length - 1];
        if (last) clock.observe(last.t);
      }
      const next: Record<string, StoredCursor> = { ...stored.cursors };
      for (const [d, c] of read.cursors) next[d] = { seq: c.seq, hash: b64(c.hash), ...(c.lastStamp ? { lastStamp: c.lastStamp } : {}) };
      await writeMeta(tx, SPACE_META.cursors, next);
      await writeMeta(tx, SPACE_META.hlc, { last: clock.last });
      await writeMeta<Pins>(tx, SPACE_META.pins, this.#pins());
      await writeMeta<SpaceSummary>(tx, SPACE_META.summary, this.summaryNow());
      return n;
    });
    if (collections.size > 0) this.events.emit('change', { collections: [...collections], source: 'remote' });
    return { pulled, collections: [...collections], refused: read.refused };
  }

  async close(): Promise<void> {
    await this.store.close();
    await this.remote.close();
  }
}

/**
 * The state with its catch-ups one at a time: a write's check, a sync and
 * the operations all refresh it, and two refreshes reading the same next
 * entry would both try to apply it (the second fails as a broken chain).
 */
function serializedRefresh(state: SpaceState): SpaceState {
  const refresh = state.refresh.bind(state);
  let last: Promise<unknown> = Promise.resolve();
  state.refresh = (remote) => {
    const run = last.catch(() => undefined).then(() => refresh(remote));
    last = run;
    return run;
  };
  return state;
}

/** The last stamp applied of each device (this device's own: all of them). */
function appliedStamps(cursors: Record<string, StoredCursor>, me: string): Map<string, string> {
  const applied = new Map<string, string>(Object.entries(cursors).map(([d, c]) => [d, c.lastStamp ? c.lastStamp + d : '']));
  applied.set(me, '\uffff');
  return applied;
}
