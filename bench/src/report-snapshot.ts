/**
 * The bootstrap table's "kith from snapshot" lines and the targets the
 * issue sets for it: within 1.3× the floor, faster than Yjs and Automerge,
 * peak RSS under 200 MB at 100,000 records.
 * @module
 */
import { floorMs, num, ms } from './report-format.js';
import type { Entry } from './series.js';

type Judge = (target: string, met: boolean, detail: string) => void;

/** Lines under the bootstrap table of `n` records, judging the snapshot targets; none when the section did not run. */
export function snapshotLines(n: number, entries: Record<string, Entry>, floor: number | undefined, judge: Judge): string[] {
  const floors = entries['floors']?.figures;
  const s = entries['snapshot']?.figures;
  if (!s) return [];
  const count = n.toLocaleString('en-US');
  const out = [
    `Kith from snapshot, device A: snapshot of ${count} records ${ms(s['snapshotMs'])} ms (${num(s['snapshotBytes'])} bytes, ${num(s['snapshotRequests'])} requests); device B bootstrap ${num(s['bootstrapRequests'])} requests.`,
  ];
  const sb = s['bootstrapMs'];
  if (sb === undefined) return out;
  const replay = entries['kith']?.figures['bootstrapMs'];
  if (replay !== undefined) out.push(`Kith bootstrap from snapshot = ${num(sb / replay, 2)} × the full replay.`);
  if (floor !== undefined) {
    out.push(`Kith bootstrap from snapshot = ${num(sb / floor, 2)} × the floor.`);
    // CPU time (every thread) moves far less with the machine's load than wall time: shown beside it, not judged.
    const cpu = s['bootstrapCpuMs'];
    const floorCpu = floors?.['insertCpuMs'] !== undefined && floors['decryptCpuMs'] !== undefined ? floors['insertCpuMs'] + floors['decryptCpuMs'] : undefined;
    if (cpu !== undefined && floorCpu !== undefined)
      out.push(`CPU time: bootstrap from snapshot ${ms(cpu)} ms vs floor ${ms(floorCpu)} ms (${num(cpu / floorCpu, 2)}×).`);
    const pairs = runForRun(entries);
    if (pairs) out.push(`The floors ran run for run beside these bootstraps (order alternating); each run's ratio: ${pairs}.`);
    judge(
      `${count} records: bootstrap from snapshot within 1.3× the floor`,
      sb <= 1.3 * floor,
      `${ms(sb)} ms vs floor ${ms(floor)} ms (${num(sb / floor, 2)}×)`,
    );
  }
  const peers = ['yjs', 'automerge']
    .map((c) => [c, entries[c]?.figures['bootstrapMs']] as const)
    .filter((p): p is readonly [string, number] => p[1] !== undefined);
  if (peers.length === 2)
    judge(
      `${count} records: bootstrap from snapshot faster than Yjs and Automerge`,
      peers.every(([, t]) => sb < t),
      `Kith from snapshot ${ms(sb)} ms; ${peers.map(([c, t]) => `${c} ${ms(t)} ms`).join(', ')}`,
    );
  const rss = s['bootstrapRssMiB'];
  if (n >= 100_000 && rss !== undefined)
    judge(`${count} records: bootstrap from snapshot peak RSS < 200 MB`, rss * 1.048576 < 200, `${num(rss)} MiB = ${num(rss * 1.048576)} MB`);
  return out;
}

/** Each run's bootstrap ÷ the floor run beside it, when the floors were measured so; else undefined. */
function runForRun(entries: Record<string, Entry>): string | undefined {
  const floors = entries['floors'];
  const boots = entries['snapshot']?.samples;
  if (!floors?.besideSnapshot || !boots || boots.length !== floors.samples.length) return undefined;
  return boots
    .map((b, i) => {
      const f = floorMs(floors.samples[i]!);
      const t = b['bootstrapMs'];
      return f === undefined || t === undefined ? '?' : `${ms(t)}/${ms(f)} = ${num(t / f, 2)}×`;
    })
    .join(', ');
}
