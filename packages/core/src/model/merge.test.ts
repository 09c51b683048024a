import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyOp, conflictsOf, viewOf, type RecordView } from './merge.js';
import { putOp, patchOp, deleteOp, resolveOp } from './local-writes.js';
import { HybridClock, stampDevice } from './hlc.js';
import { ALIVE, decodePayload, encodePayload, type Op } from './ops.js';
import { dict, own } from '../base/data-keys.js';
import type { JsonValue } from './json.js';

/** A device as the sync engine sees it, minus storage and network. */
class Replica {
  readonly views = new Map<string, RecordView>();
  readonly applied = new Map<string, string>();
  readonly ops: Op[] = [];
  readonly delivered = new Map<string, number>();
  readonly clock: HybridClock;
  wall = 1_000_000;
  /** With `wire`, received ops go through the segment payload codec, as they do between real devices. */
  constructor(
    readonly device: string,
    readonly wire = false,
  ) {
    this.clock = new HybridClock(() => this.wall);
  }
  isApplied = (stamp: string): boolean => {
    const max = this.applied.get(stampDevice(stamp));
    return max !== undefined && stamp <= max;
  };
  view(id: string): RecordView {
    let v = this.views.get(id);
    if (!v) this.views.set(id, (v = viewOf(undefined, 'c', id)));
    return v;
  }
  write(kind: 'put' | 'patch' | 'delete' | 'resolve', id: string, fields: Record<string, JsonValue>, wallStep: number): void {
    this.wall += wallStep;
    const v = this.view(id);
    const t = this.clock.next();
    let op: Op;
    if (kind === 'put') op = putOp(v, t, fields);
    else if (kind === 'patch') op = patchOp(v, t, fields);
    else if (kind === 'delete') {
      if (v.deleted) return;
      op = deleteOp(v, t);
    } else {
      if (conflictsOf(v).length === 0) return;
      op = resolveOp(v, t, undefined, { keep: true });
    }
    assert.equal(applyOp(v, op, this.device, this.isApplied), true);
    this.applied.set(this.device, t + this.device);
    this.ops.push(op);
  }
  /** Receives the next `n` ops of `from` in order, optionally re-sending one already received. */
  receive(from: Replica, n: number, duplicate: boolean): void {
    let at = this.delivered.get(from.device) ?? 0;
    const replay = duplicate && at > 0 ? [from.ops[at - 1]!] : [];
    const sent = [...replay, ...from.ops.slice(at, at + n)];
    const batch = this.wire && sent.length > 0 ? decodePayload(encodePayload(sent), undefined) : sent;
    for (const op of batch) {
      const stamp = op.t + from.device;
      if (!this.isApplied(stamp)) this.clock.observe(op.t);
      applyOp(this.view(op.i), op, from.device, this.isApplied);
      const prev = this.applied.get(from.device);
      if (prev === undefined || stamp > prev) this.applied.set(from.device, stamp);
    }
    at = Math.min(from.ops.length, at + n);
    this.delivered.set(from.device, at);
  }
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, v] of [...this.views].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (v.updated === '') continue;
      const heads = dict<string[]>();
      for (const [f, reg] of Object.entries(v.state)) {
        const hs = [...(reg.w ? [reg.w] : []), ...(reg.l ?? []).map((l) => l[0])].sort();
        if (hs.length > 0) heads[f] = hs;
      }
      out[id] = { fields: Object.assign(dict(), v.fields), deleted: v.deleted, heads };
    }
    return out;
  }
}

/** The reference model: heads = writes no other write names as predecessor. */
function model(replicas: Replica[]): Record<string, unknown> {
  type W = { stamp: string; present: boolean; value: JsonValue | undefined; prevs: readonly string[] };
  const writes = new Map<string, Map<string, W[]>>();
  for (const r of replicas) {
    for (const op of r.ops) {
      const stamp = op.t + r.device;
      let rec = writes.get(op.i);
      if (!rec) writes.set(op.i, (rec = new Map()));
      const add = (f: string, present: boolean, value: JsonValue | undefined): void => {
        const list = rec.get(f) ?? [];
        list.push({ stamp, present, value, prevs: own(op.r, f) ?? [] });
        rec.set(f, list);
      };
      for (const [f, v] of Object.entries(op.s ?? {})) add(f, true, v);
      for (const f of op.u ?? []) add(f, false, undefined);
      if (op.a !== undefined) add(ALIVE, true, op.a);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [id, rec] of [...writes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const fields = dict<JsonValue>();
    const heads = dict<string[]>();
    let deleted = true;
    for (const [f, ws] of rec) {
      const referenced = new Set(ws.flatMap((w) => w.prevs));
      const hs = ws.filter((w) => !referenced.has(w.stamp)).sort((a, b) => (a.stamp < b.stamp ? 1 : -1));
      heads[f] = hs.map((h) => h.stamp).sort();
      const win = hs[0]!;
      if (f === ALIVE) deleted = !(win.present && win.value === true);
      else if (win.present) fields[f] = win.value as JsonValue;
    }
    out[id] = { fields, deleted, heads };
  }
  return out;
}

/** Names that find something on `Object.prototype` when a plain object is used as a map. */
const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf'] as const;

/**
 * Fields as JSON.parse gives them (own properties, whatever the name): an
 * object literal or assignment would set the prototype for `__proto__`.
 */
const fieldsArb = (name: fc.Arbitrary<string>) =>
  fc
    .uniqueArray(fc.tuple(name, fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constant(null), fc.string({ maxLength: 2 }))), {
      maxLength: 2,
      selector: ([k]) => k,
    })
    .map((entries) => Object.fromEntries(entries) as Record<string, JsonValue>);

const actionWith = (name: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.record({
      type: fc.constant('write' as const),
      device: fc.nat(),
      kind: fc.constantFrom('put', 'patch', 'patch', 'delete', 'resolve'),
      id: fc.constantFrom('a', 'b', 'c'),
      fields: fieldsArb(name),
      wallStep: fc.integer({ min: -5, max: 5 }),
    }),
    fc.record({ type: fc.constant('deliver' as const), to: fc.nat(), from: fc.nat(), n: fc.integer({ min: 1, max: 4 }), duplicate: fc.boolean() }),
  );

type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;
const action = actionWith(fc.constantFrom('x', 'y', 'z'));

/** Plays `actions` on `k` devices, heals the partition, and checks every device against the model. */
function converges(k: number, actions: readonly Action[], finalOrder: readonly number[], wire = false): void {
  const devices = Array.from({ length: k }, (_, i) => new Replica(i.toString(16).padStart(16, '0'), wire));
  for (const a of actions) {
    if (a.type === 'write') devices[a.device % k]!.write(a.kind, a.id, a.fields, a.wallStep);
    else if (a.to % k !== a.from % k) devices[a.to % k]!.receive(devices[a.from % k]!, a.n, a.duplicate);
  }
  // Heal the partition: everyone receives everything, senders in a random order.
  for (const to of devices) {
    const order = [...devices].sort(
      (x, y) => (finalOrder[devices.indexOf(x) % finalOrder.length] ?? 0) - (finalOrder[devices.indexOf(y) % finalOrder.length] ?? 0),
    );
    for (const from of order) if (from !== to) to.receive(from, Infinity, false);
  }
  const expected = model(devices);
  for (const d of devices) assert.deepEqual(d.snapshot(), expected);
}

describe('merge', () => {
  test('K devices, random writes, random partial and duplicated delivery: same state and conflicts everywhere, equal to the model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.array(action, { maxLength: 60 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (k, actions, finalOrder) => converges(k, actions, finalOrder),
      ),
      { numRuns: 400 },
    );
  });

  test('field names from data (Object.prototype members, __proto__, any string) merge like any other, through the payload codec', () => {
    const name = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ minLength: 1, maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3 }),
        fc.array(actionWith(name), { maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (k, actions, finalOrder) => converges(k, actions, finalOrder, true),
      ),
      { numRuns: 300, seed: 0x6b697468 },
    );
  });

  test('a later write beats the value it saw even when its clock is a year behind', () => {
    const a = new Replica('a'.repeat(16));
    const b = new Replica('b'.repeat(16));
    a.wall = 2_000_000_000_000; // a year ahead
    b.wall = 2_000_000_000_000 - 365 * 86400_000;
    a.write('put', 'r', { title: 'from the future' }, 0);
    b.receive(a, 10, false);
    b.write('patch', 'r', { title: 'fixed later' }, 0);
    a.receive(b, 10, false);
    for (const d of [a, b]) {
      const v = d.view('r');
      assert.equal(v.fields['title'], 'fixed later');
      assert.equal(conflictsOf(v).length, 0);
    }
  });

  test('concurrent writes to one field: one winner everywhere, loser kept, resolve clears it everywhere', () => {
    const a = new Replica('a'.repeat(16));
    const b = new Replica('b'.repeat(16));
    a.write('put', 'r', { title: 't0', body: 'x' }, 1);
    b.receive(a, 10, false);
    a.write('patch', 'r', { title: 'from a' }, 1);
    b.write('patch', 'r', { title: 'from b' }, 2);
    a.receive(b, 10, false);
    b.receive(a, 10, false);
    const ca = conflictsOf(a.view('r'));
    assert.deepEqual(ca, conflictsOf(b.view('r')));
    assert.equal(ca.length, 1);
    assert.equal(ca[0]!.field, 'title');
    assert.deepEqual(
      ca[0]!.heads.map((h) => h.value),
      ['from b', 'from a'],
    );
    assert.equal(a.view('r').fields['body'], 'x');
    a.write('resolve', 'r', {}, 1);
    b.receive(a, 10, false);
    assert.equal(conflictsOf(b.view('r')).length, 0);
    assert.equal(b.view('r').fields['title'], 'from b');
  });

  test('delete vs concurrent patch: the record conflict is listed and the patch may resurrect', () => {
    const a = new Replica('a'.repeat(16));
    const b = new Replica('b'.repeat(16));
    a.write('put', 'r', { title: 't', body: 'x' }, 1);
    b.receive(a, 10, false);
    a.write('delete', 'r', {}, 1);
    b.write('patch', 'r', { title: 'edited' }, 5);
    a.receive(b, 10, false);
    b.receive(a, 10, false);
    assert.deepEqual(a.snapshot(), b.snapshot());
    const v = a.view('r');
    assert.equal(v.deleted, false);
    assert.deepEqual({ ...v.fields }, { title: 'edited' });
    assert.deepEqual(
      conflictsOf(v).map((c) => c.field),
      [null, 'title'],
    );
  });

  test('a write arriving after a write that replaced it stays replaced', () => {
    // c saw b which saw a; c's ops reach d first, then a's, then b's.
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => new Replica(x.repeat(16))) as [Replica, Replica, Replica, Replica];
    a.write('put', 'r', { v: 1 }, 1);
    b.receive(a, 10, false);
    b.write('patch', 'r', { v: 2 }, 1);
    c.receive(b, 10, false);
    c.receive(a, 10, false);
    c.write('patch', 'r', { v: 3 }, 1);
    d.receive(c, 10, false);
    d.receive(a, 10, false); // a's value looks concurrent until b's op shows it was replaced
    d.receive(b, 10, false);
    assert.equal(conflictsOf(d.view('r')).length, 0);
    assert.equal(d.view('r').fields['v'], 3);
  });
});
