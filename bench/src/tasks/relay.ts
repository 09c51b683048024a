/**
 * The relay, measured from outside its process. `latency`: two real vaults
 * (SQLite stores) on a relay in a child process (or A and B on two
 * scale-out processes of one deployment); A writes one change and
 * pushes, B learns of it by push and pulls (through `startAutoSync`, or
 * straight from `watch` in `latencyWatch`), and the time until B's
 * `subscribe` sees the change is the propagation latency, one change in
 * flight at a time. `load`: many lightweight devices speaking the relay
 * protocol (see relay-load.ts).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Vault, type Remote } from '@kith/core';
import { openRelayRemote, type RelayRemote } from '@kith/relay';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay-server/testing';
import { openSqliteStore } from '@kith/sqlite';
import { check, percentile, type Figures, type Task } from '../measure.js';
import { cpuStallUs, procMemMiB } from '../proc-stats.js';
import { makeDeviceTemplate } from '../relay-devices.js';
import { runLoad } from '../relay-load.js';

/** Changes made before the measured ones, in the same process and vaults (JIT, SQLite, sockets). */
const WARM_CHANGES = 20;
/** How long one change may take to reach B before the run fails. */
const CHANGE_TIMEOUT_MS = 10_000;

/** First-occurrence timestamps of named events, cleared before each change. */
class Timeline {
  #marks = new Map<string, number>();
  reset(): void {
    this.#marks.clear();
  }
  mark(name: string): void {
    if (!this.#marks.has(name)) this.#marks.set(name, performance.now());
  }
  at(name: string): number {
    return this.#marks.get(name) ?? NaN;
  }
}

/**
 * `remote` with its puts, gets, lists and watch callbacks stamped on `t` as
 * `<side>.<method>.<first key segment>.start|end` and `<side>.notified`.
 * A Proxy so methods added to Remote later (auth) pass through untouched;
 * methods run on the real object, whose private fields a proxy lacks.
 */
function traced<R extends Remote>(remote: R, side: string, t: Timeline): R {
  return new Proxy(remote, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (prop === 'watch') return (prefix: string, onChange: () => void) => fn.call(target, prefix, () => (t.mark(`${side}.notified`), onChange()));
      if (prop === 'put' || prop === 'list' || prop === 'get' || prop === 'getMany') {
        return async (key: string | readonly string[], ...rest: unknown[]) => {
          const name = `${side}.${prop}.${(typeof key === 'string' ? key : (key[0] ?? '')).split('/')[0]}`;
          t.mark(`${name}.start`);
          try {
            return await fn.call(target, key, ...rest);
          } finally {
            t.mark(`${name}.end`);
          }
        };
      }
      return fn.bind(target);
    },
  });
}

/** How B hears of A's changes. */
type Path = 'autoSync' | 'watch';

/** Resolves once `pred()` holds; rejects after `ms`. */
async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`relay bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * `changes` sequential changes from A to B on the relay at `urls` (A's
 * and B's: the same relay embedded, two processes scaled out).
 */
async function propagate(changes: number, base: string, urls: readonly [string, string], path: Path): Promise<Figures> {
  const t = new Timeline();
  const rawA: RelayRemote = openRelayRemote(urls[0]);
  const rawB: RelayRemote = openRelayRemote(urls[1]);
  const remoteA = traced(rawA, 'a', t);
  const remoteB = traced(rawB, 'b', t);
  const { vault: a, recoveryCode } = await Vault.create({ store: await openSqliteStore(join(base, 'a', 'kith.db')), remote: remoteA, remoteUrl: urls[0] });
  const b = await Vault.restore({ store: await openSqliteStore(join(base, 'b', 'kith.db')), remote: remoteB, remoteUrl: urls[1], recoveryCode });
  try {
    let waiting: { i: number; seen: (at: number) => void } | undefined;
    b.subscribe('lat', {}, (recs) => {
      if (waiting && recs[0]?.['i'] === waiting.i) waiting.seen(performance.now());
    });
    // Rounds of B's auto-sync that pulled something: one per change, as one change is in flight at a time.
    let rounds = 0;
    let pullRounds = 0;
    b.on('synced', (r) => (rounds++, r.pulled > 0 && pullRounds++));
    if (path === 'autoSync') {
      // An hour between rounds: every round in the run is started by push.
      b.startAutoSync({ intervalMs: 3_600_000 });
      await until(() => rounds > 0, 5000, "B's first sync");
    } else {
      remoteB.watch('heads/', () => void b.pull().catch(() => {}));
    }
    // A is connected too, as a device running auto-sync or `sync --watch` is: its socket is open for others' changes.
    remoteA.watch('heads/', () => {});
    await until(() => rawA.pushLive && rawB.pushLive, 5000, 'the push sockets');
    // The hello comes before the relay has read our watch request; one round trip settles it.
    await rawB.list('heads/');

    const phase = {
      total: [] as number[],
      write: [] as number[],
      push: [] as number[],
      registry: [] as number[],
      segment: [] as number[],
      head: [] as number[],
      notify: [] as number[],
      wait: [] as number[],
      list: [] as number[],
      headGet: [] as number[],
      segmentsGet: [] as number[],
      pull: [] as number[],
    };
    const span = (name: string): number => t.at(`${name}.end`) - t.at(`${name}.start`);
    let stall0 = 0;
    let from = 0;
    for (let i = 0; i < WARM_CHANGES + changes; i++) {
      if (i === WARM_CHANGES) [stall0, from] = [cpuStallUs(), performance.now()];
      t.reset();
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const seen = new Promise<number>((resolve, reject) => {
        waiting = { i, seen: resolve };
        timer = setTimeout(() => reject(new Error(`relay bench: change ${i} did not reach B within ${CHANGE_TIMEOUT_MS} ms (${path})`)), CHANGE_TIMEOUT_MS);
      });
      await a.put('lat', 'x', { i });
      const written = performance.now();
      await a.push();
      const pushed = performance.now();
      const tSeen = await seen.finally(() => clearTimeout(timer));
      if (i < WARM_CHANGES) continue;
      phase.total.push(tSeen - t0);
      phase.write.push(written - t0);
      phase.push.push(pushed - written);
      phase.registry.push(span('a.list.registry'));
      phase.segment.push(span('a.put.segments'));
      phase.head.push(span('a.put.heads'));
      phase.notify.push(t.at('b.notified') - t.at('a.put.heads.start'));
      phase.wait.push(t.at('b.list.heads.start') - t.at('b.notified'));
      phase.list.push(span('b.list.heads'));
      phase.headGet.push(span('b.get.heads'));
      phase.segmentsGet.push(span('b.getMany.segments'));
      phase.pull.push(tSeen - t.at('b.list.heads.start'));
    }
    const cpuStallPct = ((cpuStallUs() - stall0) / 1000 / (performance.now() - from)) * 100;
    check((await b.get('lat', 'x'))?.['i'] === WARM_CHANGES + changes - 1, 'relay: the last change did not arrive');
    // Let B's last round end first: stopping auto-sync in the middle of a round that then succeeds waits out intervalMs.
    if (path === 'autoSync') await until(() => pullRounds === WARM_CHANGES + changes, 5000, "B's last round");
    const p50 = (xs: number[]): number => percentile(xs.filter(Number.isFinite), 0.5);
    return {
      changes,
      p50Ms: percentile(phase.total, 0.5),
      p99Ms: percentile(phase.total, 0.99),
      maxMs: Math.max(...phase.total),
      writeP50Ms: p50(phase.write),
      pushP50Ms: p50(phase.push),
      registryListP50Ms: p50(phase.registry),
      segmentPutP50Ms: p50(phase.segment),
      headPutP50Ms: p50(phase.head),
      notifyP50Ms: p50(phase.notify),
      waitP50Ms: p50(phase.wait),
      listP50Ms: p50(phase.list),
      headGetP50Ms: p50(phase.headGet),
      segmentsGetP50Ms: p50(phase.segmentsGet),
      pullP50Ms: p50(phase.pull),
      cpuStallPct,
    };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/**
 * The relay processes of a run: one embedded (data under `dir`), or, when
 * the orchestrator named a PostgreSQL database and an S3 bucket, two
 * scale-out processes sharing them and an auth secret (one deployment).
 */
async function startRelays(dir: string): Promise<RelayProcess[]> {
  const postgres = process.env['KITH_BENCH_PG'];
  const s3 = process.env['KITH_BENCH_S3'];
  if (!postgres || !s3) return [await spawnRelayProcess(join(dir, 'relay'))];
  const target = { postgres, s3, authSecret: randomBytes(32).toString('hex') };
  // One after the other: the first start migrates the fresh database.
  const first = await spawnRelayProcess(target);
  try {
    return [first, await spawnRelayProcess(target)];
  } catch (e) {
    await first.stop();
    throw e;
  }
}

/** Runs `fn` against relays in their own processes (SIGTERM afterwards); adds the largest peak RSS among them. */
async function onRelays(dir: string, fn: (relays: readonly [RelayProcess, ...RelayProcess[]]) => Promise<Figures>): Promise<Figures> {
  const relays = await startRelays(dir);
  try {
    const figures = await fn(relays as [RelayProcess, ...RelayProcess[]]);
    return { ...figures, relayRssMiB: Math.max(...relays.map((r) => procMemMiB(r.child.pid!).peak)) };
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
  }
}

/** A on the first relay process, B on the last (the same one when embedded). */
const pair = (relays: readonly RelayProcess[]): [string, string] => [`${relays[0]!.url}/bench`, `${relays.at(-1)!.url}/bench`];

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/**
 * Relay tasks. `latency`/`latencyWatch`: `n` changes A → B, on one
 * embedded relay, or on two scale-out processes when `KITH_BENCH_PG` and
 * `KITH_BENCH_S3` name a database and a bucket. `load`: `n`
 * device connections in vaults of 5 (spread over both scale-out processes
 * when there are two), `KITH_BENCH_RATE` changes/s (default
 * 200) for `KITH_BENCH_SECONDS` (default 20) after a warm-up of a fifth of that (at least 2 s);
 * `KITH_BENCH_PUSH_BODIES=0` makes devices speak the protocol without push bodies (each reads the head);
 * `KITH_BENCH_PUSH_BATCH=0` without batch frames (one frame per notice); `KITH_BENCH_PUSHED_VIEW_MS` sets how long a
 * device's pushed view of `heads/` answers (default the client's 30 s; 5000 as before it).
 */
export const tasks: Record<string, Task> = {
  latency: (n, dir) => onRelays(dir, (relays) => propagate(n, dir, pair(relays), 'autoSync')),
  latencyWatch: (n, dir) => onRelays(dir, (relays) => propagate(n, dir, pair(relays), 'watch')),
  load: (n, dir) => {
    const seconds = env('KITH_BENCH_SECONDS', 20);
    return onRelays(dir, async (relays) => {
      const template = await makeDeviceTemplate(`${relays[0].url}/load-0`, join(dir, 'template'), 5);
      return runLoad(
        relays.map((r) => r.url),
        relays.map((r) => r.child.pid!),
        template,
        {
          devices: n,
          rate: env('KITH_BENCH_RATE', 200),
          seconds,
          warmSeconds: Math.max(2, seconds / 5),
          segmentBytes: 1024,
          pushBodies: env('KITH_BENCH_PUSH_BODIES', 1) !== 0,
          pushBatch: env('KITH_BENCH_PUSH_BATCH', 1) !== 0,
          pushedViewMs: env('KITH_BENCH_PUSHED_VIEW_MS', 30_000),
        },
      );
    });
  },
};
