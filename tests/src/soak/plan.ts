/**
 * @module soak/plan
 * The scheduler: turns a seed into the whole run up front — which device
 * does what in each round, and which fault strikes during it — so that a
 * seed replays the same operations and the same fault sequence whatever
 * happened when it last ran. Outcomes never feed back into the plan.
 */
import { Rng } from './prng.js';

export type RemoteKind = 'folder' | 's3' | 'relay' | 'scale-out';
export const REMOTE_KINDS: readonly RemoteKind[] = ['folder', 's3', 'relay', 'scale-out'];

/** A device of the run: real CLI processes (`c*`) or library vaults in the soak's process (`l*`). */
export interface DeviceSpec {
  readonly name: string;
  readonly kind: 'cli' | 'lib';
  /** Library devices only: the real SQLite store or the in-memory reference store. */
  readonly store?: 'sqlite' | 'memory';
}

export type Op =
  /** Replace one of the device's own records (`shared`: a record every device writes, which merges by LWW). */
  | { readonly kind: 'put'; readonly key: string; readonly shared: boolean }
  | { readonly kind: 'patch'; readonly key: string }
  | { readonly kind: 'delete'; readonly key: string }
  /** Many records in one transaction: all or nothing. */
  | { readonly kind: 'import'; readonly lines: number }
  /** An attachment and a record referencing it (library devices). */
  | { readonly kind: 'blob'; readonly bytes: number }
  | { readonly kind: 'push' | 'pull' | 'sync' }
  /** A new library device: with the recovery code, or paired by `by`. */
  | { readonly kind: 'join'; readonly via: 'restore' | 'pair'; readonly device: DeviceSpec; readonly by: string }
  | { readonly kind: 'revoke'; readonly target: string };
// Extension points: snapshots and compaction (not built yet) become ops
// `{ kind: 'snapshot' }` and `{ kind: 'compact' }` here, with weights in
// OP_WEIGHTS, an arm in devices.ts and their promise in model.ts.

export type FaultKind =
  /** SIGKILL of a CLI device mid-command. */
  | 'kill-device'
  /** SIGKILL of the relay (embedded) or of one relay process (scale-out) mid-operation; restarted after it. */
  | 'kill-relay'
  /** PostgreSQL of a scale-out relay shut down (fast) or killed (SIGKILL of the postmaster) mid-operation, and started again. */
  | 'restart-postgres'
  /** The fault proxy in front of S3 or the relay misbehaves for the operation. */
  | 'network'
  /** A tmpfs is full for the operation: the one holding every home, or the one holding the folder remote or the embedded relay's data. */
  | 'disk-full'
  /** A library device's clock jumps (and stays there until the next jump). */
  | 'clock-jump'
  /** The remote lies for the operation: a library device's view of it, or (CLI devices, folder and S3) its storage. */
  | 'lying'
  /** The remote loses a device's newest segment and head for good (the writer must put them back). */
  | 'lose-own'
  /** Lets `lying` serve rolled-back objects (found a pull bug, fixed: see tests/README.md). */
  | 'lying-rollback';

/** Faults gated off by default because they reach known product bugs (see tests/README.md): none now. */
export const GATED_FAULTS: readonly FaultKind[] = [];
export const ALL_FAULTS: readonly FaultKind[] = [
  'kill-device',
  'kill-relay',
  'restart-postgres',
  'network',
  'disk-full',
  'clock-jump',
  'lying',
  'lose-own',
  'lying-rollback',
];

export const NETWORK_KINDS = ['drop-before', 'drop-after', 'status', 'slow', 'truncate', 'duplicate'] as const;
export const LIES = ['rollback', 'withhold', 'duplicate', 'reorder'] as const;
/** The lies a remote's storage can tell every client at once (what a CLI device meets). */
export const STORAGE_LIES = ['rollback', 'withhold'] as const;

export interface Fault {
  readonly kind: FaultKind;
  /** What exactly: a network fault's or a lie's kind, a clock's direction, which relay process. */
  readonly sub?: string;
  /** A number in [0, 1) that places the fault (when to kill, how far to jump, the lie's seed). */
  readonly x: number;
}

export interface Step {
  readonly round: number;
  readonly device: string;
  readonly op: Op;
  readonly fault?: Fault;
}

export interface PlanOptions {
  readonly seed: number;
  readonly rounds: number;
  readonly remote: RemoteKind;
  /** Fault kinds that may be drawn (the environment decides, e.g. no tmpfs without root). */
  readonly faults: readonly FaultKind[];
  /** Probability that a round carries a fault (default 0.4). */
  readonly faultRate?: number;
  /** Some writes use field names like `constructor` and `__proto__` (on by default in `npm run soak` and the short soak). */
  readonly poisonFields?: boolean;
  /** Share of rounds played by a CLI device (default 0.3): CLI rounds cost a process start each, library rounds far less. */
  readonly cliShare?: number;
}

export interface Plan extends PlanOptions {
  readonly devices: readonly DeviceSpec[];
  readonly steps: readonly Step[];
}

export const INITIAL_DEVICES: readonly DeviceSpec[] = [
  { name: 'c1', kind: 'cli' },
  { name: 'c2', kind: 'cli' },
  { name: 'l1', kind: 'lib', store: 'sqlite' },
  { name: 'l2', kind: 'lib', store: 'memory' },
];
const MAX_ACTIVE = 6;
const OWN_KEYS = 24;
const SHARED_KEYS = 6;

const OP_WEIGHTS = { put: 30, shared: 8, patch: 6, delete: 8, import: 5, blob: 4, push: 10, pull: 10, sync: 14 } as const;

/** How often each applicable kind is drawn, relatively. */
const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'kill-device': 3,
  'kill-relay': 1.5,
  'restart-postgres': 1,
  network: 3,
  'disk-full': 1,
  'clock-jump': 1,
  lying: 2,
  'lose-own': 1,
  'lying-rollback': 0,
};

const touchesRemote = (op: Op): boolean => ['push', 'pull', 'sync', 'blob'].includes(op.kind);

/** The fault kinds that make sense for this op on this device and remote. */
function applicable(kinds: readonly FaultKind[], remote: RemoteKind, device: DeviceSpec, op: Op): FaultKind[] {
  const relay = remote === 'relay' || remote === 'scale-out';
  return kinds.filter((k) => {
    switch (k) {
      case 'kill-device':
        return device.kind === 'cli';
      case 'kill-relay':
        return relay && touchesRemote(op);
      case 'restart-postgres':
        return remote === 'scale-out' && touchesRemote(op);
      case 'network':
        return remote !== 'folder' && touchesRemote(op);
      case 'disk-full':
        return device.store !== 'memory' || ((remote === 'folder' || remote === 'relay') && touchesRemote(op));
      case 'clock-jump':
        return device.kind === 'lib';
      case 'lying':
        // CLI devices are lied to through the remote's own storage (folder, S3): see run.ts.
        return (device.kind === 'lib' || remote === 'folder' || remote === 's3') && touchesRemote(op);
      case 'lose-own':
        return (remote === 'folder' || remote === 's3') && (op.kind === 'sync' || op.kind === 'pull');
      case 'lying-rollback':
        return false; // not a fault of its own: it widens `lying`
    }
  });
}

function drawFault(rng: Rng, kind: FaultKind, remote: RemoteKind, device: DeviceSpec, op: Op, rollback: boolean): Fault {
  const x = rng.next();
  switch (kind) {
    case 'network':
      return { kind, sub: rng.pick(NETWORK_KINDS), x };
    case 'lying':
      return { kind, sub: rng.pick((device.kind === 'cli' ? STORAGE_LIES : LIES).filter((l) => rollback || l !== 'rollback')), x };
    case 'clock-jump':
      return { kind, sub: rng.pick(['ahead', 'behind', 'back-to-true']), x };
    case 'disk-full':
      // The device's disk, or the remote's (the folder, the embedded relay's data) where the soak holds it.
      return {
        kind,
        sub: (remote === 'folder' || remote === 'relay') && touchesRemote(op) && (device.store === 'memory' || rng.chance(0.5)) ? 'remote' : 'home',
        x,
      };
    case 'restart-postgres':
      return { kind, sub: rng.pick(['fast', 'kill9']), x };
    case 'kill-relay':
      return remote === 'scale-out' ? { kind, sub: rng.pick(['process-0', 'process-1']), x } : { kind, x };
    default:
      return { kind, x };
  }
}

/** Draws the whole run from the seed. */
export function makePlan(o: PlanOptions): Plan {
  const rng = new Rng(o.seed);
  const devices: DeviceSpec[] = [...INITIAL_DEVICES];
  const revoked = new Set<string>();
  const steps: Step[] = [];
  const rate = o.faultRate ?? 0.4;
  for (let round = 0; round < o.rounds; round++) {
    const active = devices.filter((d) => !revoked.has(d.name));
    const libs = active.filter((d) => d.kind === 'lib');
    const revocable = libs.filter((d) => d.name !== 'l1');
    // Membership changes run without faults, so the device set a plan implies never depends on luck.
    if (active.length < MAX_ACTIVE && rng.chance(0.015)) {
      const device: DeviceSpec = { name: `l${devices.filter((d) => d.kind === 'lib').length + 1}`, kind: 'lib', store: rng.chance(0.5) ? 'sqlite' : 'memory' };
      steps.push({ round, device: device.name, op: { kind: 'join', via: rng.chance(0.5) ? 'restore' : 'pair', device, by: rng.pick(libs).name } });
      devices.push(device);
      continue;
    }
    if (active.length > 4 && revocable.length > 0 && rng.chance(0.01)) {
      const target = rng.pick(revocable).name;
      steps.push({ round, device: 'l1', op: { kind: 'revoke', target } });
      revoked.add(target);
      continue;
    }
    // Now and then a revoked device tries to read: it must learn nothing written after its revocation.
    if (revoked.size > 0 && rng.chance(0.03)) {
      steps.push({ round, device: rng.pick([...revoked]), op: { kind: 'pull' } });
      continue;
    }
    const clis = active.filter((d) => d.kind === 'cli');
    const device = rng.pick(clis.length > 0 && rng.chance(o.cliShare ?? 0.3) ? clis : libs);
    const kind = rng.weighted(device.kind === 'cli' ? { ...OP_WEIGHTS, blob: 0 } : OP_WEIGHTS);
    const own = () => `${device.name}-k${rng.int(OWN_KEYS)}`;
    const op: Op =
      kind === 'put'
        ? { kind: 'put', key: own(), shared: false }
        : kind === 'shared'
          ? { kind: 'put', key: `s${rng.int(SHARED_KEYS)}`, shared: true }
          : kind === 'patch'
            ? { kind: 'patch', key: own() }
            : kind === 'delete'
              ? { kind: 'delete', key: own() }
              : kind === 'import'
                ? { kind: 'import', lines: 10 + rng.int(90) }
                : kind === 'blob'
                  ? { kind: 'blob', bytes: 1 + rng.int(300_000) }
                  : { kind };
    const kinds = applicable(o.faults, o.remote, device, op);
    const fault =
      kinds.length > 0 && rng.chance(rate)
        ? drawFault(
            rng,
            rng.weighted<FaultKind>(Object.fromEntries(kinds.map((k) => [k, FAULT_WEIGHTS[k]]))),
            o.remote,
            device,
            op,
            o.faults.includes('lying-rollback'),
          )
        : undefined;
    steps.push(fault ? { round, device: device.name, op, fault } : { round, device: device.name, op });
  }
  return { ...o, devices, steps };
}

/** The plan with only the faults of the given rounds (the shrinker's and replay's view). */
export function keepFaults(plan: Plan, rounds: ReadonlySet<number>, upTo = plan.steps.length): Plan {
  const steps = plan.steps.slice(0, upTo).map((s) => (s.fault && !rounds.has(s.round) ? { round: s.round, device: s.device, op: s.op } : s));
  return { ...plan, rounds: steps.length, steps };
}

/** Rounds that carry a fault. */
export const faultRounds = (plan: Plan): number[] => plan.steps.filter((s) => s.fault).map((s) => s.round);

/** One line per fault, for reports: `r17 kill-device c1 push x=0.42`. */
export const describeFault = (s: Step): string =>
  `r${s.round} ${s.fault!.kind}${s.fault!.sub ? `:${s.fault!.sub}` : ''} ${s.device} ${s.op.kind} x=${s.fault!.x.toFixed(3)}`;
