/**
 * The command line of `npm run bench` and what each mode measures.
 * @module
 */
import { ErrorCode, KithError } from '@kith/core';

/** The sections a run can be narrowed to with `--only`. */
export const SECTIONS = [
  'kith',
  'snapshot',
  'yjs',
  'automerge',
  'floors',
  'local',
  'remotes',
  'blobs',
  'relay',
  'cli',
  'scale',
  'churn',
  'browser',
  'bundle',
  'spaces',
] as const;
/**
 * Sections only `--only` runs: `scale` takes many minutes (a million-record vault), `browser` needs Chromium;
 * `bundle` is the browser section's bundle sizes alone (esbuild, no Chromium, seconds); `spaces` is the shared-space
 * scenario (10 devices, several minutes at 10,000 records).
 */
const OPT_IN: readonly Section[] = ['scale', 'churn', 'browser', 'bundle', 'spaces'];
/** One section of the benchmark. */
export type Section = (typeof SECTIONS)[number];

/** What the relay section measures. */
export interface RelayPlan {
  /** Changes A → B in each latency run. */
  readonly changes: number;
  /** Device connections under load, in vaults of 5. */
  readonly devices: number;
  /** Changes per second offered under load, for `seconds`. */
  readonly rate: number;
  readonly seconds: number;
  /**
   * Further load runs looking for the saturation point: the rate doubles
   * while delivery p99 stays under 100 ms, or halves while it does not;
   * once a step crosses over, the next ones halve the gap.
   */
  readonly sweepSteps: number;
}

/** What one invocation measures. */
export interface Options {
  readonly quick: boolean;
  /** Record counts for the bootstrap/incremental comparison. */
  readonly sizes: readonly number[];
  /** Records in the local-writes vault. */
  readonly localN: number;
  /** Records in the opt-in scale vault (`--only scale`). */
  readonly scaleN: number;
  /** Records each updated 100 times in the opt-in churn section (`--only churn`). */
  readonly churnN: number;
  /** Records pushed and bootstrapped through each remote. */
  readonly remotesN: number;
  /** Size of the blob file, MiB. */
  readonly blobMiB: number;
  /** The relay section: see relay-runs.ts. */
  readonly relay: RelayPlan;
  /** Sections to run (all unless `--only`). */
  readonly only: ReadonlySet<Section>;
  /** Measured runs for `section` at `n` records, each after an in-process warm-up. */
  readonly runs: (section: Section, n: number) => number;
  /** Where results.json goes. */
  readonly out: string;
}

/**
 * Parses `--quick`, `--only a,b`, `--runs R` and `--out FILE`.
 * Full runs take 5 runs at 10,000 records (11 of the snapshot and floors sections) and 3 at 100,000.
 * Quick runs take 3 of each comparison and 1 of remotes and blobs, to
 * stay under a minute. The relay section runs once in either mode.
 */
export function parseOptions(argv: readonly string[], defaultOut: string): Options {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--'))
      throw new KithError(ErrorCode.Usage, `${flag} needs a value`, { hint: 'e.g. npm run bench -- --only kith,yjs --runs 3' });
    return v;
  };
  const known = new Set(['--quick', '--only', '--runs', '--out']);
  for (const a of argv)
    if (a.startsWith('--') && !known.has(a))
      throw new KithError(ErrorCode.Usage, `unknown option ${a}`, { hint: 'options: --quick, --only SECTIONS, --runs R, --out FILE' });
  const quick = argv.includes('--quick');
  const onlyArg = value('--only');
  const only = new Set<Section>();
  for (const s of onlyArg?.split(',') ?? SECTIONS.filter((x) => !OPT_IN.includes(x))) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new KithError(ErrorCode.Usage, `unknown section ${s}`, { hint: `sections: ${SECTIONS.join(', ')}` });
    only.add(s as Section);
  }
  const runsArg = value('--runs');
  const forced = runsArg === undefined ? undefined : Number(runsArg);
  if (forced !== undefined && !(Number.isInteger(forced) && forced >= 1))
    throw new KithError(ErrorCode.Usage, `--runs must be a positive integer, not ${runsArg}`, { hint: 'e.g. --runs 3' });
  const runs = (section: Section, n: number): number => {
    // A relay run is a distribution already (percentiles over its changes or deliveries), and each
    // scale-out row has one fresh database and bucket, which a second run would find in use: --runs
    // does not apply to the relay section.
    if (section === 'relay') return 1;
    if (forced !== undefined) return forced;
    if (section === 'scale') return 1;
    // Each churn bootstrap run copies a device that made a million changes.
    if (section === 'churn') return quick ? 1 : 3;
    // Each browser run fills IndexedDB with the whole vault, in a page on a shared machine.
    if (section === 'browser') return quick ? 1 : 3;
    // Each spaces run sets up 10 devices (pairings and invites) before it measures.
    if (section === 'spaces') return quick ? 1 : 3;
    // Each CLI run is one process start, tens of milliseconds: medians and p90 want many.
    if (section === 'cli') return quick ? 5 : 20;
    if (quick) return section === 'remotes' || section === 'blobs' ? 1 : 3;
    // The bootstrap from a snapshot and the floors at 10,000 records are judged by the ratio of two medians of
    // ~60 ms runs, run for run, where one run's ratio moves by 0.3 with the host's load: 11 runs each (a second
    // or two apiece) hold that median far closer than 5.
    if ((section === 'snapshot' || section === 'floors') && n < 100_000) return 11;
    return n >= 100_000 ? 3 : 5;
  };
  const out = value('--out') ?? defaultOut;
  return quick
    ? {
        quick,
        sizes: [1000],
        localN: 1000,
        scaleN: 20_000,
        churnN: 1000,
        remotesN: 1000,
        blobMiB: 8,
        relay: { changes: 30, devices: 100, rate: 50, seconds: 2, sweepSteps: 0 },
        only,
        runs,
        out,
      }
    : {
        quick,
        sizes: [10_000, 100_000],
        localN: 100_000,
        scaleN: 1_000_000,
        churnN: 10_000,
        remotesN: 10_000,
        blobMiB: 1024,
        relay: { changes: 1000, devices: 1000, rate: 200, seconds: 20, sweepSteps: 4 },
        only,
        runs,
        out,
      };
}
