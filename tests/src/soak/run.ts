/**
 * @module soak/run
 * Runs one plan from a clean start: sets up the remote and the devices,
 * plays every step with its fault, heals everything, lets every device
 * sync, and hands the final state to the model's checker.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteKeys } from '@kith/core/adapter';
import { CliDevice, LibDevice, refusal, type Device, type Outcome } from './devices.js';
import { startEnv, type SoakEnv } from './env.js';
import { SmallDisk } from './faults.js';
import { blobRecordId, importId, Model, sha256hex, type Dump } from './model.js';
import type { DeviceSpec, Plan, Step } from './plan.js';
import { Rng } from './prng.js';

/** What a run did. */
export interface RunStats {
  rounds: number;
  faults: Record<string, number>;
  ops: Record<string, number>;
  /** Refusals by code (expected under faults: a remote unavailable, a lie detected, a full disk). */
  refusals: Record<string, number>;
  acknowledged: number;
  lies: number;
  proxyFaults: number;
  ms: number;
}

export interface RunResult {
  readonly violations: readonly string[];
  /** The round where a violation was first seen, or the plan's length when only the final check saw it. */
  readonly failedAt: number;
  readonly stats: RunStats;
}

export interface RunOptions {
  /** Prints progress lines. */
  readonly log?: (line: string) => void;
  /** Prints every refusal. */
  readonly verbose?: (line: string) => void;
  /** Mount a tmpfs for homes and the folder remote (root only); default true. */
  readonly tmpfs?: boolean;
}

const bump = (m: Record<string, number>, k: string, by = 1): void => {
  m[k] = (m[k] ?? 0) + by;
};

/** Deterministic content for a blob of `round`. */
function blobBytes(round: number, n: number): Uint8Array {
  const rng = new Rng(round * 7919 + 1);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const x = rng.seed();
    out[i] = x & 0xff;
    if (i + 1 < n) out[i + 1] = (x >>> 8) & 0xff;
    if (i + 2 < n) out[i + 2] = (x >>> 16) & 0xff;
    if (i + 3 < n) out[i + 3] = x >>> 24;
  }
  return out;
}

/** Plays `plan` on fresh devices and a fresh remote; never throws for a product failure (returns violations). */
export async function runPlan(plan: Plan, o: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const stats: RunStats = { rounds: 0, faults: {}, ops: {}, refusals: {}, acknowledged: 0, lies: 0, proxyFaults: 0, ms: 0 };
  const root = mkdtempSync(join(tmpdir(), 'kith-soak-'));
  const disk = o.tmpfs === false ? undefined : SmallDisk.mount(join(root, 'homes'), 64);
  const remoteDisk = o.tmpfs === false ? undefined : SmallDisk.mount(join(root, 'remote'), 64);
  const dir = disk?.dir ?? join(root, 'homes');
  mkdirSync(dir, { recursive: true });
  const model = new Model();
  const devices = new Map<string, Device>();
  const order: DeviceSpec[] = [];
  let env: SoakEnv | undefined;
  let failedAt = plan.steps.length;
  /** Heads as first seen by a storage lie, to roll back to later. */
  const heads = new Map<string, Uint8Array>();
  const noteFailure = (round: number) => (failedAt = Math.min(failedAt, round));
  try {
    env = await startEnv(plan.remote, remoteDisk?.dir ?? join(root, 'remote'));
    const e = env;
    const urlOf = (spec: DeviceSpec) => e.url(order.indexOf(spec));
    // The founding CLI device, then the others with the recovery code.
    let code = '';
    for (const spec of plan.devices.filter((d) => plan.steps.every((s) => s.op.kind !== 'join' || s.op.device.name !== d.name))) {
      order.push(spec);
      if (spec.kind === 'cli') {
        const d = new CliDevice(spec, dir, root);
        if (!code) code = await d.init(urlOf(spec));
        else await d.restore(urlOf(spec), code);
        devices.set(spec.name, d);
      } else {
        devices.set(spec.name, await LibDevice.join(spec, dir, await e.open(order.indexOf(spec)), urlOf(spec), { code }));
      }
    }
    const outcome = (where: string, r: Outcome, round: number): boolean => {
      if (r.status === 'ok') return true;
      if (r.status === 'killed') return false;
      bump(stats.refusals, r.code);
      o.verbose?.(`  ${where}: refused ${r.code}: ${r.message.split('\n')[0]!.slice(0, 200)}`);
      if (!r.clear) {
        model.unclear(where, r.message);
        noteFailure(round);
      }
      return false;
    };

    for (const step of plan.steps) {
      stats.rounds++;
      const dev = devices.get(step.device)!;
      const op = step.op;
      bump(stats.ops, op.kind === 'put' && op.shared ? 'shared-put' : op.kind);
      if (op.kind === 'join') {
        order.push(op.device);
        const join = async (how: { code: string } | { by: LibDevice }) => LibDevice.join(op.device, dir, await e.open(order.length - 1), urlOf(op.device), how);
        let joined: LibDevice | undefined;
        if (op.via === 'pair') {
          // Pairing is refused when the inviter's clock has jumped past the code's validity: a clear refusal, then the recovery code.
          joined = await join({ by: devices.get(op.by) as LibDevice }).catch((err: unknown) => {
            outcome(`r${step.round} ${op.by} pair`, refusal(err), step.round);
            return undefined;
          });
          if (joined) bump(stats.ops, 'paired');
        }
        devices.set(op.device.name, joined ?? (await retry(() => join({ code }))));
        continue;
      }
      if (op.kind === 'revoke') {
        const target = devices.get(op.target)!;
        // Everything the device wrote reaches the remote before it goes (a revoked device's unpushed writes are its own).
        const flushed = await target.run({ kind: 'sync' });
        if (flushed.status !== 'ok') model.violations.push(`r${step.round}: ${op.target} could not sync before its revocation: ${JSON.stringify(flushed)}`);
        await retry(() => (dev as LibDevice).vault.devices.revoke(target.deviceId));
        model.revoked(op.target, step.round);
        continue;
      }
      const fault = step.fault;
      if (fault) bump(stats.faults, fault.sub ? `${fault.kind}:${fault.sub}` : fault.kind);
      const during: Promise<void>[] = [];
      let undo: (() => Promise<void>) | undefined;
      const lib = dev instanceof LibDevice ? dev : undefined;
      switch (fault?.kind) {
        case 'disk-full':
          (fault.sub === 'remote' ? remoteDisk : disk)?.fill();
          break;
        case 'network':
          e.network(fault.sub!, fault.x);
          break;
        case 'clock-jump':
          lib?.clock.jump(fault.sub!, fault.x);
          break;
        case 'lying':
          if (lib) lib.lying.setLie(fault.sub as never, Math.floor(fault.x * 2 ** 32));
          else undo = await storageLie(e, fault.sub!, dev.deviceId, heads);
          break;
        case 'kill-relay':
          during.push(sleep(fault.x * 300).then(() => e.killRelay(fault.sub, 100 + fault.x * 1500)));
          break;
        case 'restart-postgres':
          during.push(sleep(fault.x * 300).then(() => e.restartPostgres(fault.sub === 'kill9' ? 'kill9' : 'fast', 100 + fault.x * 1500)));
          break;
        case 'lose-own':
          await loseNewest(e, dev.deviceId);
          break;
      }
      const killAt = fault?.kind === 'kill-device' ? fault.x : undefined;
      const where = `r${step.round} ${step.device} ${op.kind}`;
      const w = step.round;
      const own = { w, by: step.device };
      try {
        if (model.isRevoked(step.device)) {
          // A revoked device may try; it must learn nothing new (checked at the end) and be told clearly.
          outcome(where, await dev.run({ kind: 'pull' }), w);
        } else if (op.kind === 'put' || op.kind === 'patch') {
          const collection = op.kind === 'put' && op.shared ? 's' : 'c';
          const fields =
            op.kind === 'patch'
              ? { ...own, p: w }
              : { ...own, body: `v${w}`.padEnd(40 + (w % 200), '.'), ...(plan.poisonFields && w % 5 === 0 ? poison(w) : {}) };
          const ok = outcome(where, await dev.run({ kind: op.kind, collection, id: op.key, fields }, killAt), w);
          if (op.kind === 'put' && op.shared) model.shared(step.device, op.key, w, ok);
          else model.write(step.device, op.key, w, ok);
        } else if (op.kind === 'delete') {
          const r = await dev.run({ kind: 'delete', collection: 'c', id: op.key }, killAt);
          // Deleting what is not there changes nothing.
          if (!(r.status === 'refused' && r.code === 'KITH_NOT_FOUND')) model.write(step.device, op.key, null, outcome(where, r, w));
        } else if (op.kind === 'import') {
          const records = Array.from({ length: op.lines }, (_, i) => ({ id: importId(step.device, w, i), ...own, i }));
          model.import(step.device, w, op.lines, outcome(where, await dev.run({ kind: 'import', collection: 'c', records }, killAt), w));
        } else if (op.kind === 'blob' && lib) {
          const bytes = blobBytes(w, op.bytes);
          const put = await lib.blob(bytes);
          if ('ref' in put) {
            const r = await lib.run({
              kind: 'put',
              collection: 'c',
              id: blobRecordId(step.device, w),
              fields: { ...own, ref: put.ref, sha: sha256hex(bytes) },
            });
            model.blob(step.device, w, bytes, outcome(where, r, w));
          } else outcome(where, put, w);
        } else if (op.kind === 'push' || op.kind === 'pull' || op.kind === 'sync') {
          outcome(where, await dev.run({ kind: op.kind }, killAt), w);
        }
      } finally {
        await Promise.allSettled(during);
        await undo?.();
        disk?.free();
        remoteDisk?.free();
        e.calm();
        lib?.lying.setLie(undefined);
      }
      if (o.log && step.round % 50 === 49) o.log(`  ${plan.remote} round ${step.round + 1}/${plan.steps.length} (${model.acknowledged} writes acknowledged)`);
    }

    // Heal: no fault remains (clocks stay where they jumped). Every device still in the vault syncs until quiet.
    const live = [...devices.entries()].filter(([n]) => !model.isRevoked(n));
    for (let pass = 0; pass < 3; pass++) {
      for (const [name, d] of live) {
        const r = await d.run({ kind: 'sync' });
        if (r.status !== 'ok' && pass === 2) {
          model.violations.push(`after healing, ${name} cannot sync: ${r.status === 'refused' ? r.message : r.status}`);
        }
      }
    }
    const liveDumps = new Map<string, Dump>();
    for (const [name, d] of live) liveDumps.set(name, await d.dump());
    const revokedDumps = new Map<string, Dump>();
    for (const [name, d] of devices) {
      if (!model.isRevoked(name)) continue;
      await d.run({ kind: 'pull' });
      revokedDumps.set(name, await d.dump());
    }
    // Attachments: every library device reads back the bytes its records name.
    for (const [name, d] of live) {
      if (!(d instanceof LibDevice)) continue;
      for (const r of liveDumps.get(name)!.c) {
        if (typeof r.ref !== 'string') continue;
        const got = await d.blobBytes(r.ref).then(sha256hex, (err: unknown) => `unreadable: ${String(err)}`);
        if (got !== r.sha) model.violations.push(`${name}: blob of ${r.id} reads back wrong (${got.slice(0, 80)})`);
      }
    }
    const violations = model.check(liveDumps, revokedDumps);
    stats.acknowledged = model.acknowledged;
    stats.lies = [...devices.values()].reduce((s, d) => s + (d instanceof LibDevice ? d.lying.told : 0), 0);
    stats.proxyFaults = e.proxyCounts().faults;
    return { violations, failedAt: violations.length ? failedAt : plan.steps.length, stats: { ...stats, ms: Date.now() - started } };
  } catch (err) {
    // The harness itself failed (a server did not start): a violation, so it is seen, with its round.
    return {
      violations: [`harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`],
      failedAt,
      stats: { ...stats, ms: Date.now() - started },
    };
  } finally {
    for (const d of devices.values()) await d.close();
    await env?.stop().catch(() => undefined);
    disk?.unmount();
    remoteDisk?.unmount();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Field names that a plain object reads from its prototype; JSON.parse makes them own properties. */
const poison = (w: number): Record<string, unknown> => JSON.parse(`{"constructor":${w},"__proto__":{"x":${w}},"toString":"t${w}"}`) as Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Membership changes run fault-free but may meet a relay still starting: a few attempts. */
async function retry<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= 4) throw err;
      await sleep(200 * (i + 1));
    }
  }
}

/**
 * A lie told by the remote's storage to every client for one operation of
 * a CLI device: `withhold` takes other devices' newest segments away,
 * `rollback` serves other devices' heads as first seen. Returns what puts
 * the truth back (the real objects, as they were just before).
 */
async function storageLie(env: SoakEnv, lie: string, deviceId: string, firstSeen: Map<string, Uint8Array>): Promise<(() => Promise<void>) | undefined> {
  const op = await env.operator();
  if (!op) return undefined;
  const saved: [string, Uint8Array][] = [];
  try {
    for (const h of await op.list(remoteKeys.headsPrefix)) {
      const other = h.key.slice(remoteKeys.headsPrefix.length);
      if (other === deviceId) continue;
      if (lie === 'withhold') {
        const segs = await op.list(remoteKeys.segmentPrefix(other));
        const last = segs[segs.length - 1];
        const bytes = last && (await op.get(last.key));
        if (!last || !bytes) continue;
        saved.push([last.key, bytes]);
        await op.delete(last.key);
      } else {
        const now = await op.get(h.key);
        const old = firstSeen.get(h.key);
        if (!now) continue;
        if (!old) firstSeen.set(h.key, now);
        else if (!Buffer.from(old).equals(now)) {
          saved.push([h.key, now]);
          await op.put(h.key, old);
        }
      }
    }
  } catch (err) {
    await op.close();
    throw err;
  }
  return async () => {
    try {
      for (const [key, bytes] of saved) await op.put(key, bytes);
    } finally {
      await op.close();
    }
  };
}

/** The `lose-own` fault: the remote loses a device's newest segment and its head (the operator's storage, not a device). */
async function loseNewest(env: SoakEnv, deviceId: string): Promise<void> {
  const op = await env.operator();
  if (!op) return;
  try {
    const segs = await op.list(remoteKeys.segmentPrefix(deviceId));
    const last = segs[segs.length - 1];
    if (last) await op.delete(last.key);
    await op.delete(remoteKeys.head(deviceId));
  } finally {
    await op.close();
  }
}

export type { Step };
