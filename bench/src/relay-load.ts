/**
 * A load generator that speaks the relay protocol itself (see
 * packages/relay/src/protocol.ts), so a thousand devices cost a socket
 * each rather than a vault each: every device holds a watch WebSocket on
 * `heads/`; one device per vault writes changes at a steady overall rate
 * (a segment PUT, then its head PUT, as a push does); the other devices of
 * the vault are told by the relay and read the head and the segment, as a
 * pull does. With push bodies (the default; `pushBodies: false` for the
 * protocol without them) a device asks for bodies on its socket and does
 * what `@kith/relay`'s client does with them: while its view of `heads/`
 * holds (seeded by a listing of `heads/` at most 5 s old, every notice since
 * with the head's bytes), it takes the head from the notice, otherwise it
 * lists `heads/` (with bodies) first; once bodies are granted it watches
 * `segments/` too, and reads the segment the head names only when no notice
 * brought its bytes. Everything is timed from when a change was due (open loop), so
 * a relay that falls behind shows as latency, not as a slower schedule.
 * @module
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { percentile, type Figures } from './measure.js';
import { cpuStallUs, procCpuMs, procMemMiB } from './proc-stats.js';
import type { DeviceTemplate } from './relay-devices.js';
import { API, CONNECTION_HEADER, request, signIn, copyVault, connect, pooled, addressOf, type Device } from './relay-wire.js';

/** What one load run does. */
export interface LoadOptions {
  /** Device connections (watch sockets) in all. */
  readonly devices: number;
  /** Changes per second across all writers (one writer per vault). */
  readonly rate: number;
  /** Measured seconds, after `warmSeconds` at the same rate. */
  readonly seconds: number;
  readonly warmSeconds: number;
  /** Bytes of each segment a writer puts. */
  readonly segmentBytes: number;
  /** Ask the relay for bodies with notices (default true). */
  readonly pushBodies?: boolean;
  /** Ask the relay for several notices per frame (default true). */
  readonly pushBatch?: boolean;
  /** How long a device's pushed view of `heads/` answers (default the client's, {@link PUSHED_VIEW_MS}). */
  readonly pushedViewMs?: number;
}

/** How long a device's pushed view of `heads/` answers after the listing that seeded it (the client's PUSHED_HEADS_MS). */
const PUSHED_VIEW_MS = 30_000;

interface Change {
  /** When the schedule wanted it, ms (performance.now). */
  readonly due: number;
  readonly measured: boolean;
}

interface Writer {
  readonly device: Device;
  readonly key: string;
  readonly changes: Change[];
  queue: Promise<void>;
}

/**
 * Runs the load against the relay processes at `bases` (one deployment;
 * processes `pids`, for their memory and CPU) and returns delivered rates,
 * latencies, the relay's CPU (all processes together) and the largest RSS
 * of a process. Device `i` talks to `bases[i % n]`, so with several
 * processes every vault has devices on each and notices cross between them.
 * Vault `load-0` is the template's own; the others are copies of it.
 */
export async function runLoad(bases: readonly string[], pids: readonly number[], t: DeviceTemplate, o: LoadOptions): Promise<Figures> {
  const agent = new http.Agent({ keepAlive: true });
  const perVault = t.devices.length;
  const vaults = Math.ceil(o.devices / perVault);
  const devices: Device[] = Array.from({ length: o.devices }, (_, i) => ({
    base: bases[i % bases.length]!,
    vault: `load-${Math.floor(i / perVault)}`,
    key: t.devices[i % perVault]!,
    address: addressOf(i),
    headers: {},
    seen: new Map(),
    viewUntil: 0,
    pushed: new Set(),
  }));
  const writers = new Map<string, Writer>();
  for (let v = 0; v < vaults; v++) {
    const device = devices[v * perVault]!;
    writers.set(`${device.vault}/heads/${device.key.signer}`, { device, key: `heads/${device.key.signer}`, changes: [], queue: Promise.resolve() });
  }
  const objectUrl = (d: Device, key: string): URL => new URL(`${d.base}${API}/${d.vault}/objects/${key}`);
  const listUrl = (d: Device): URL => new URL(`${d.base}${API}/${d.vault}/list?prefix=heads%2F&bodies=1`);

  // Latencies of the changes due in the measured window, wherever they arrive...
  const delivered: number[] = [];
  const fetched: number[] = [];
  const acked: number[] = [];
  // ...and what the relay got done within it, whichever change it belonged to (throughput).
  const tally = { from: Infinity, to: Infinity, delivered: 0, reads: 0, writes: 0 };
  const inWindow = (): boolean => {
    const now = performance.now();
    return now >= tally.from && now < tally.to;
  };
  const errors = new Map<string, number>();
  const failed = (e: unknown): void => {
    const what = (e as Error).message ?? String(e);
    errors.set(what, (errors.get(what) ?? 0) + 1);
  };
  let expected = 0;

  const onChanged = (d: Device, key: string, body: string | undefined): void => {
    const w = writers.get(`${d.vault}/${key}`);
    if (!w) return;
    const n = d.seen.get(key) ?? 0;
    d.seen.set(key, n + 1);
    const change = w.changes[n];
    if (!change) return failed(new Error(`a notification for ${key} beyond its writes`));
    if (change.measured) delivered.push(performance.now() - change.due);
    if (inWindow()) tally.delivered++;
    // A device that was told reads what moved: the head (pushed, or read), then the segment it names.
    void (async () => {
      let headBytes: Buffer;
      if (body !== undefined && d.bodies && performance.now() < d.viewUntil) headBytes = Buffer.from(body, 'base64url');
      else if (d.bodies) {
        // The client's pushed view of heads/ does not hold: it lists them (with bodies), which seeds it again.
        const listedAt = performance.now();
        const list = await request(agent, d, listUrl(d), 'GET', d.headers);
        if (list.status !== 200) throw new Error(`list answered ${list.status}`);
        const item = (JSON.parse(list.body.toString('utf8')) as { items: { key: string; body?: string }[] }).items.find((i) => i.key === key);
        headBytes = Buffer.from(item?.body ?? '', 'base64url');
        d.viewUntil = listedAt + (o.pushedViewMs ?? PUSHED_VIEW_MS);
        if (inWindow()) tally.reads++;
      } else {
        const head = await request(agent, d, objectUrl(d, key), 'GET', d.headers);
        if (head.status !== 200) throw new Error(`head read answered ${head.status}`);
        headBytes = head.body;
        if (inWindow()) tally.reads++;
      }
      // The head read or listed may already be a later one than this notice's: read the segment it names.
      const seq = Number(JSON.parse(headBytes.toString('utf8') || '{}').seq);
      const segment = `segments/${w.device.key.signer}/${seq}`;
      if (!d.pushed.delete(segment)) {
        const seg = await request(agent, d, objectUrl(d, segment), 'GET', d.headers);
        if (seg.status !== 200) throw new Error(`segment read answered ${seg.status}`);
        if (inWindow()) tally.reads++;
      }
      if (change.measured) fetched.push(performance.now() - change.due);
    })().catch(failed);
  };

  const write = async (w: Writer, change: Change): Promise<void> => {
    const d = w.device;
    const seq = w.changes.length;
    const headers = { ...d.headers, ...(d.connection ? { [CONNECTION_HEADER]: d.connection } : {}) };
    try {
      const seg = await request(
        agent,
        d,
        objectUrl(d, `segments/${d.key.signer}/${seq}`),
        'PUT',
        { ...headers, 'if-none-match': '*' },
        randomBytes(o.segmentBytes),
      );
      // Counted before the head goes out: its notification may arrive before the PUT's answer.
      w.changes.push(change);
      const head = await request(agent, d, objectUrl(d, w.key), 'PUT', headers, Buffer.from(JSON.stringify({ seq })));
      if (seg.status !== 204 || head.status !== 204) throw new Error(`write answered ${seg.status}/${head.status}`);
      if (change.measured) acked.push(performance.now() - change.due);
      if (inWindow()) tally.writes++;
    } catch (e) {
      failed(e);
    }
  };

  try {
    await pooled([...writers.values()].slice(1), 16, (w) => copyVault(agent, w.device, t));
    await pooled(devices, 32, async (d) => void (d.headers = await signIn(agent, d, d.key)));
    const bodies = o.pushBodies ?? true;
    const batch = o.pushBatch ?? true;
    await pooled(devices, 32, (d) => connect(d, { bodies, batch }, onChanged));
    const relayCpuMsNow = (): number => pids.reduce((sum, pid) => sum + procCpuMs(pid), 0);
    const idleRssMiB = Math.max(...pids.map((pid) => procMemMiB(pid).now));
    const all = [...writers.values()];
    const start = performance.now();
    const measureFrom = (tally.from = start + o.warmSeconds * 1000);
    const end = (tally.to = measureFrom + o.seconds * 1000);
    let issued = 0;
    let cpu0 = { relay: 0, self: process.cpuUsage(), stall: 0 };
    let measuring = false;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const now = performance.now();
        if (!measuring && now >= measureFrom) {
          measuring = true;
          cpu0 = { relay: relayCpuMsNow(), self: process.cpuUsage(), stall: cpuStallUs() };
        }
        // Issue every change due by now (open loop: the schedule never waits for the relay).
        for (let due = start + (issued * 1000) / o.rate; due <= Math.min(now, end); due = start + (issued * 1000) / o.rate) {
          const w = all[issued++ % all.length]!;
          const change = { due, measured: due >= measureFrom };
          if (change.measured) expected += perVault - 1;
          w.queue = w.queue.then(() => write(w, change));
        }
        if (now >= end) return done();
        setTimeout(tick, 1);
      };
      tick();
    });
    const relayCpuMs = relayCpuMsNow() - cpu0.relay;
    const stallUs = cpuStallUs() - cpu0.stall;
    const self = process.cpuUsage(cpu0.self);
    // Let the last changes arrive (bounded), then judge what did.
    const drainEnd = performance.now() + 5000;
    while ((delivered.length < expected || fetched.length < expected) && performance.now() < drainEnd) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(all.map((w) => w.queue));
    // A relay that sends notices at the end of its turn (batch frames) answers a write before telling of it: the last ones are in flight.
    for (const settle = performance.now() + 2000; delivered.length < expected && performance.now() < settle;) await new Promise((r) => setTimeout(r, 10));
    const peakRssMiB = Math.max(...pids.map((pid) => procMemMiB(pid).peak));
    // What went wrong, for whoever reads the worker's stderr (the figures count it).
    for (const [what, count] of errors) process.stderr.write(`relay load: ${count} × ${what}\n`);
    return {
      relayProcesses: pids.length,
      pushBodies: bodies && devices.every((d) => d.bodies) ? 1 : 0,
      pushBatch: batch && devices.every((d) => d.batch) ? 1 : 0,
      devices: o.devices,
      vaults,
      writers: all.length,
      offeredPerSec: o.rate,
      seconds: o.seconds,
      expectedPerSec: expected / o.seconds,
      deliveredPerSec: tally.delivered / o.seconds,
      readsPerSec: tally.reads / o.seconds,
      changesPerSec: tally.writes / o.seconds,
      missed: expected - delivered.length,
      errors: [...errors.values()].reduce((a, b) => a + b, 0),
      deliveredP50Ms: percentile(delivered, 0.5),
      deliveredP99Ms: percentile(delivered, 0.99),
      fetchedP99Ms: percentile(fetched, 0.99),
      ackedP99Ms: percentile(acked, 0.99),
      relayRssMiB: peakRssMiB,
      relayIdleRssMiB: idleRssMiB,
      relayCpuPct: (relayCpuMs / (o.seconds * 1000)) * 100,
      // What one change costs the relay (its writes, fan-out and the reads it causes): capacity on an idle core, whatever else ran.
      relayCpuMsPerChange: relayCpuMs / tally.writes,
      loadCpuPct: ((self.user + self.system) / 1000 / (o.seconds * 1000)) * 100,
      cpuStallPct: (stallUs / 1000 / (o.seconds * 1000)) * 100,
    };
  } finally {
    for (const d of devices) d.socket?.terminate();
    agent.destroy();
  }
}
