import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyOp, rowOf, viewOf, type RecordRow, type RecordView } from './merge.js';
import { deleteOp, patchOp, putOp } from './local-writes.js';
import { HybridClock, stampDevice } from './hlc.js';
import type { Op } from './ops.js';
import { joinRows } from './join.js';

const DEVICES = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'];
const IDS = ['x', 'y'];

/** A device's state: its records, what it applied of each device (the highest stamp), and the ops it wrote. */
interface Side {
  readonly device: string;
  readonly rows: Map<string, RecordView>;
  readonly applied: Map<string, string>;
  readonly got: Map<string, number>;
  readonly ops: Op[];
  readonly clock: HybridClock;
}

const side = (device: string, wall: { ms: number }): Side => ({
  device,
  rows: new Map(),
  applied: new Map(),
  got: new Map(),
  ops: [],
  clock: new HybridClock(() => wall.ms),
});
const isApplied =
  (s: { applied: ReadonlyMap<string, string> }) =>
  (stamp: string): boolean => {
    const max = s.applied.get(stampDevice(stamp));
    return max !== undefined && stamp <= max;
  };
const view = (s: Side, id: string): RecordView => s.rows.get(id) ?? s.rows.set(id, viewOf(undefined, 'c', id)).get(id)!;

function write(s: Side, kind: 'put' | 'patch' | 'delete', id: string, v: number): void {
  const rv = view(s, id);
  if (kind === 'delete' && rv.deleted) return;
  const t = s.clock.next();
  const op = kind === 'put' ? putOp(rv, t, { v }) : kind === 'patch' ? patchOp(rv, t, { [`f${v % 2}`]: v }) : deleteOp(rv, t);
  applyOp(rv, op, s.device, isApplied(s));
  s.applied.set(s.device, t + s.device);
  s.ops.push(op);
}

/** `to` receives `from`'s own ops up to `upTo` (in order, as segments arrive). */
function receive(to: Side, from: Side, upTo: number): void {
  const at = to.got.get(from.device) ?? 0;
  for (const op of from.ops.slice(at, upTo)) {
    to.clock.observe(op.t);
    applyOp(view(to, op.i), op, from.device, isApplied(to));
    to.applied.set(from.device, op.t + from.device);
  }
  to.got.set(from.device, Math.max(at, Math.min(upTo, from.ops.length)));
}

/** What a record shows and what the merge keeps of it, in a comparable form. */
function shape(r: RecordRow | undefined): unknown {
  if (!r || Object.keys(r.state).length === 0) return undefined; // never written: nothing
  const state = r.state as Record<string, { w: string; l?: [string, unknown?][] }>;
  const heads = Object.fromEntries(
    Object.entries(state)
      .map(([f, reg]) => [f, [...(reg.w ? [reg.w] : []), ...(reg.l ?? []).map((l) => l[0])].sort()] as const)
      .filter(([, hs]) => hs.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  return { fields: r.fields, deleted: r.deleted, conflicted: r.conflicted, heads };
}

const action = fc.oneof(
  fc.record({ k: fc.constantFrom('put' as const, 'patch' as const, 'delete' as const), d: fc.nat(2), id: fc.constantFrom(...IDS), v: fc.nat(9) }),
  fc.record({ k: fc.constant('recv' as const), d: fc.nat(2), from: fc.nat(2), n: fc.nat(4) }),
);

test('join of two devices’ states equals the state of a device that applied what both had, in any order (commutative, idempotent)', () => {
  fc.assert(
    fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), fc.nat(2), fc.nat(2), (actions, i, j) => {
      const wall = { ms: 1_000_000 };
      const sides = DEVICES.map((d) => side(d, wall));
      for (const a of actions) {
        wall.ms += 1000;
        if (a.k === 'recv') {
          if (a.d !== a.from) receive(sides[a.d]!, sides[a.from]!, (sides[a.d]!.got.get(DEVICES[a.from]!) ?? 0) + a.n);
        } else write(sides[a.d]!, a.k, a.id, a.v);
      }
      const [x, y] = [sides[i]!, sides[j]!];
      // The reference: a fresh device that receives, per device, as much as the further of the two had.
      const z = side('dddddddddddddddd', wall);
      for (const s of sides) {
        const upTo = (who: Side): number => (who === s ? s.ops.length : (who.got.get(s.device) ?? 0));
        receive(z, s, Math.max(upTo(x), upTo(y)));
      }
      for (const id of IDS) {
        const rx = x.rows.get(id) && rowOf(x.rows.get(id)!);
        const ry = y.rows.get(id) && rowOf(y.rows.get(id)!);
        const want = z.rows.get(id) && rowOf(z.rows.get(id)!);
        const xy = joinRows('c', id, { row: rx, applied: isApplied(x) }, { row: ry, applied: isApplied(y) });
        const yx = joinRows('c', id, { row: ry, applied: isApplied(y) }, { row: rx, applied: isApplied(x) });
        assert.deepEqual(shape(xy), shape(want), `record ${id}`);
        assert.deepEqual(shape(yx), shape(xy), `record ${id}: commutative`);
        assert.deepEqual(
          shape(joinRows('c', id, { row: rx, applied: isApplied(x) }, { row: rx, applied: isApplied(x) })),
          shape(rx),
          `record ${id}: idempotent`,
        );
      }
    }),
    { numRuns: 500 },
  );
});
