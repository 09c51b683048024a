/**
 * The CLI start section (issue #17 point 3): `kith --version`, `kith status`
 * and `kith get` on a small folder vault, each started as its own process
 * `runs` times, in turns with `node -e ''` so that all four meet the same
 * load; wall-time medians and p90, and each median's ratio to
 * `node -e ''`'s. The target holds the ratio within 2.5×.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ms, num } from './report-format.js';

const KITH_BIN = fileURLToPath(new URL('../../packages/cli/bin/kith.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../packages/cli/dist/bundle/main.js', import.meta.url));
/** The same CLI from its compiled modules, as every command started before the bundle: shown beside it, not judged. */
const UNBUNDLED = new URL('../../packages/cli/dist/main.js', import.meta.url).href;
const UNBUNDLED_GET = 'kith get, unbundled (dist/main.js)';

/** The target: each command's median start within this many times `node -e ''`'s. */
export const CLI_START_TARGET = 2.5;

/** Start time of one command, ms. */
export interface StartTime {
  readonly p50Ms: number;
  readonly p90Ms: number;
}

/** What the section measured. */
export interface CliStartResults {
  readonly runs: number;
  /** Whether bin/kith.js had a bundle to start from (`npm run build` makes it). */
  readonly bundled: boolean;
  /** The machine's 1, 5 and 15 minute load averages, before and after. */
  readonly load: { readonly before: readonly number[]; readonly after: readonly number[] };
  /** Keyed by the command line shown in the table; `node -e ''` first. */
  readonly commands: Record<string, StartTime>;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

/** Makes a small vault in `dir` and times the commands. */
export function measureCliStart(dir: string, runs: number): CliStartResults {
  const home = join(dir, 'home');
  const kith = (...args: string[]): string[] => [KITH_BIN, '--home', home, ...args];
  const run = (args: readonly string[], input = ''): void => {
    const r = spawnSync(process.execPath, args, { input, stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.slice(1).join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  };
  run(kith('init', '--remote', join(dir, 'remote')));
  run(
    kith('import', 'notes', '-'),
    Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `n${i}`, title: `note ${i}`, done: i % 2 === 0 })).join('\n') + '\n',
  );
  const commands: [string, string[]][] = [
    ["node -e ''", ['-e', '']],
    ['kith --version', [KITH_BIN, '--version']],
    ['kith status', kith('status')],
    ['kith get', kith('get', 'notes', 'n7')],
    [
      UNBUNDLED_GET,
      [
        '--input-type=module',
        '-e',
        `const { main } = await import(${JSON.stringify(UNBUNDLED)}); await main(process.argv.slice(1));`,
        '--',
        '--home',
        home,
        'get',
        'notes',
        'n7',
      ],
    ],
  ];
  const before = loadavg();
  const times = commands.map(() => [] as number[]);
  // One unmeasured round reads every file into the page cache.
  for (let i = -1; i < runs; i++) {
    // In turns, starting each round one command later, so no command always follows the same one.
    for (let j = 0; j < commands.length; j++) {
      const k = (i + 1 + j) % commands.length;
      const t0 = performance.now();
      run(commands[k]![1]);
      if (i >= 0) times[k]!.push(performance.now() - t0);
    }
  }
  const after = loadavg();
  return {
    runs,
    bundled: existsSync(BUNDLE),
    load: { before, after },
    commands: Object.fromEntries(
      commands.map(([name], k) => {
        const sorted = times[k]!.sort((a, b) => a - b);
        return [name, { p50Ms: quantile(sorted, 0.5), p90Ms: quantile(sorted, 0.9) }];
      }),
    ),
  };
}

/** Markdown lines of the section; targets go to `judge`. */
export function cliStartTables(r: CliStartResults, judge: (target: string, met: boolean, detail: string) => void): string[] {
  const base = r.commands["node -e ''"]?.p50Ms;
  const load = (l: readonly number[]): string => l.map((x) => num(x, 2)).join(' / ');
  const out = [
    '',
    `### CLI start: ${r.runs} runs of each, in turns, on a 20-record folder vault${r.bundled ? '' : ' (**no bundle**: run `npm run build`)'}`,
    '',
    "| command | p50 ms | p90 ms | p50 ÷ `node -e ''` |",
    '|---|--:|--:|--:|',
  ];
  for (const [name, t] of Object.entries(r.commands))
    out.push(`| \`${name}\` | ${ms(t.p50Ms)} | ${ms(t.p90Ms)} | ${base === undefined ? '–' : num(t.p50Ms / base, 2)} |`);
  out.push(
    '',
    `Load average (1 / 5 / 15 min) ${load(r.load.before)} before, ${load(r.load.after)} after, on ${r.runs * Object.keys(r.commands).length} process starts; the ratios come from one run, so they hold on a loaded machine better than the milliseconds do.`,
  );
  if (base !== undefined) {
    for (const name of ['kith --version', 'kith status', 'kith get']) {
      const t = r.commands[name];
      if (t)
        judge(
          `CLI start: \`${name}\` within ${CLI_START_TARGET}× \`node -e ''\``,
          t.p50Ms <= CLI_START_TARGET * base,
          `p50 ${ms(t.p50Ms)} ms vs ${ms(base)} ms (${num(t.p50Ms / base, 2)}×)`,
        );
    }
  }
  return out;
}
