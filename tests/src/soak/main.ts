/**
 * @module soak/main
 * `npm run soak -- [--rounds N] [--minutes M] [--remote folder|s3|relay|scale-out|all] [--seed S]`
 *
 * Plays seeded fault rounds (default 200 per remote; unbounded with
 * `--minutes` alone) on every remote named (default all four), in
 * runs of `--chunk` rounds (each a fresh vault; run i of a remote uses
 * seed S+i), until the rounds are done or `--minutes` have passed. A
 * failing run prints its seed, shrinks its fault sequence and prints the
 * command that replays it. `--record` writes the figures to
 * bench/results.json (section `soak`). See tests/README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_FAULTS, describeFault, GATED_FAULTS, keepFaults, makePlan, REMOTE_KINDS, type FaultKind, type Plan, type RemoteKind } from './plan.js';
import { runPlan, type RunStats } from './run.js';
import { shrink } from './shrink.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string' },
    minutes: { type: 'string' },
    remote: { type: 'string', default: 'all' },
    seed: { type: 'string' },
    chunk: { type: 'string', default: '250' },
    faults: { type: 'string' },
    'fault-rate': { type: 'string', default: '0.4' },
    'cli-share': { type: 'string', default: '0.3' },
    'only-faults': { type: 'string' },
    // Poisoned field names are on by default; --plain-fields turns them off (--poison-fields is kept for old replay lines).
    'poison-fields': { type: 'boolean', default: false },
    'plain-fields': { type: 'boolean', default: false },
    shrink: { type: 'string', default: '30' },
    record: { type: 'boolean', default: false },
    parallel: { type: 'boolean', default: false },
  },
});

const remotes = (values.remote === 'all' ? REMOTE_KINDS : values.remote.split(',')) as RemoteKind[];
for (const r of remotes) if (!REMOTE_KINDS.includes(r)) usage(`unknown remote ${r}`);
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() % 2 ** 31) >>> 0;
// With --minutes alone, rounds are unbounded: the clock ends the soak.
const rounds = values.rounds !== undefined ? Number(values.rounds) : values.minutes !== undefined ? Infinity : 200;
const chunk = Math.min(rounds, Number(values.chunk));
const deadline = values.minutes !== undefined ? Date.now() + Number(values.minutes) * 60_000 : Infinity;
const faults = faultKinds(values.faults);
const onlyFaults = values['only-faults'] !== undefined ? new Set(values['only-faults'].split(',').filter(Boolean).map(Number)) : undefined;
if (!(Number.isInteger(rounds) || rounds === Infinity) || rounds < 1 || !Number.isInteger(chunk)) usage('--rounds and --chunk take positive integers');

function usage(msg: string): never {
  process.stderr.write(
    `soak: ${msg}\nusage: npm run soak -- [--rounds N] [--minutes M] [--remote folder|s3|relay|scale-out|all] [--seed S] [--chunk C] [--faults k1,k2|+gated] [--only-faults r1,r2] [--plain-fields] [--shrink RUNS] [--parallel] [--record]\n`,
  );
  process.exit(2);
}

/** Default: every fault kind but the gated ones; `+lose-own` adds one; a plain list replaces. */
function faultKinds(arg: string | undefined): FaultKind[] {
  const base = ALL_FAULTS.filter((k) => !GATED_FAULTS.includes(k));
  if (!arg) return base;
  const parts = arg.split(',').filter(Boolean);
  const add = parts.every((p) => p.startsWith('+'));
  const names = parts.map((p) => p.replace(/^\+/, '')) as FaultKind[];
  for (const n of names) if (!ALL_FAULTS.includes(n)) usage(`unknown fault kind ${n} (known: ${ALL_FAULTS.join(', ')})`);
  return add ? [...base, ...names] : names;
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};
const log = (l: string) => process.stdout.write(`${l}\n`);
const totals = new Map<RemoteKind, RunStats & { runs: number }>();
const started = Date.now();
let failed = false;

/** Plays every run of one remote; false when a run failed (then it has shrunk and printed the replay). */
async function soakRemote(remote: RemoteKind): Promise<boolean> {
  const t: RunStats & { runs: number } = { runs: 0, rounds: 0, faults: {}, ops: {}, refusals: {}, acknowledged: 0, lies: 0, proxyFaults: 0, ms: 0 };
  totals.set(remote, t);
  for (let i = 0; t.rounds < rounds && Date.now() < deadline && !failed; i++) {
    const runSeed = (seed + i) >>> 0;
    const full: Plan = makePlan({
      seed: runSeed,
      rounds: Math.min(chunk, rounds - t.rounds),
      remote,
      faults,
      faultRate: Number(values['fault-rate']),
      cliShare: Number(values['cli-share']),
      poisonFields: !values['plain-fields'],
    });
    const plan = onlyFaults ? keepFaults(full, onlyFaults) : full;
    log(`${remote}: run ${i + 1}, seed ${runSeed}, ${plan.steps.length} rounds, ${plan.steps.filter((s) => s.fault).length} faults`);
    const r = await runPlan(plan, { log, ...(process.env['SOAK_VERBOSE'] ? { verbose: log } : {}) });
    t.runs++;
    t.rounds += r.stats.rounds;
    t.acknowledged += r.stats.acknowledged;
    t.lies += r.stats.lies;
    t.proxyFaults += r.stats.proxyFaults;
    t.ms += r.stats.ms;
    add(t.faults, r.stats.faults);
    add(t.ops, r.stats.ops);
    add(t.refusals, r.stats.refusals);
    log(
      `${remote}: run ${i + 1} ${r.violations.length ? 'FAILED' : 'passed'}: ${r.stats.rounds} rounds, ${r.stats.acknowledged} writes acknowledged, ${Object.values(r.stats.faults).reduce((a, b) => a + b, 0)} faults, ${(r.stats.ms / 1000).toFixed(1)} s`,
    );
    if (r.violations.length === 0) continue;
    failed = true;
    log(`\nFAILED: remote ${remote}, seed ${runSeed}, ${plan.steps.length} rounds (first seen in round ${r.failedAt})`);
    for (const v of r.violations.slice(0, 12)) log(`  - ${v}`);
    // A harness failure (a server that did not start) is not a fault sequence to shrink.
    const budget = r.violations.some((v) => v.startsWith('harness error')) ? 0 : Number(values.shrink);
    if (budget > 0) {
      log(`shrinking (at most ${budget} re-runs)...`);
      const s = await shrink(plan, r, (p) => runPlan(p), budget, log);
      const kept = new Set(s.faults);
      log(`\nshrunk in ${s.runs} re-runs to ${s.rounds} rounds and ${s.faults.length} fault(s):`);
      for (const step of plan.steps.slice(0, s.rounds)) if (step.fault && kept.has(step.round)) log(`  ${describeFault(step)}`);
      for (const v of s.result.violations.slice(0, 6)) log(`  - ${v}`);
      log(
        `replay: npm run soak -- --remote ${remote} --seed ${runSeed} --rounds ${s.rounds} --only-faults ${s.faults.join(',') || '-1'} --faults ${faults.join(',')} --fault-rate ${values['fault-rate']} --cli-share ${values['cli-share']}${values['plain-fields'] ? ' --plain-fields' : ''} --shrink 0`,
      );
    }
    return false;
  }
  return true;
}

// --parallel: the remotes at once (each run mostly waits on its processes), in one process so the totals stay together.
if (values.parallel) await Promise.all(remotes.map(soakRemote));
else for (const remote of remotes) if (!(await soakRemote(remote))) break;

const all = [...totals.values()];
const sum = (f: (t: RunStats & { runs: number }) => number) => all.reduce((s, t) => s + f(t), 0);
const faultsByKind: Record<string, number> = {};
for (const t of all) add(faultsByKind, t.faults);
log(
  `\n${failed ? 'FAILED' : 'passed'}: ${sum((t) => t.rounds)} rounds on ${[...totals.keys()].join(', ')}, ${sum((t) => t.acknowledged)} writes acknowledged, ${Object.values(faultsByKind).reduce((a, b) => a + b, 0)} faults, ${((Date.now() - started) / 60_000).toFixed(1)} min`,
);
log(`faults by kind: ${JSON.stringify(faultsByKind)}`);
const refusals: Record<string, number> = {};
for (const t of all) add(refusals, t.refusals);
log(`refusals by code: ${JSON.stringify(refusals)}`);

if (values.record && !failed) {
  const file = fileURLToPath(new URL('../../../bench/results.json', import.meta.url));
  const results = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  results['soak'] = {
    date: new Date().toISOString(),
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`,
    machine: { cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    seed,
    faultKinds: faults,
    rounds: sum((t) => t.rounds),
    writesAcknowledged: sum((t) => t.acknowledged),
    faultsByKind,
    minutes: Number(((Date.now() - started) / 60_000).toFixed(1)),
    remotes: Object.fromEntries(totals),
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`recorded in bench/results.json (soak)`);
}
process.exitCode = failed ? 1 : 0;
