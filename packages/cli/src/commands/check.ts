/**
 * @module commands/check
 * `kith check [--read-data]`: verifies everything on the remote, reading
 * only; one line per problem, and exit 1 when there is any.
 */
import type { CheckCounts, CheckReport } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { objectBar } from '../progress.js';
import { contextOf } from './shared.js';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function describeCounts(c: CheckCounts, readData: boolean): string {
  const parts = [
    plural(c.registry, 'registry entry', 'registry entries'),
    plural(c.keys, 'sealed key'),
    plural(c.heads, 'head'),
    plural(c.segments, 'segment'),
    plural(c.manifests, 'blob'),
    readData ? `${plural(c.chunksRead, 'chunk')} read` : `${plural(c.chunks, 'chunk')} listed (--read-data reads them)`,
  ];
  if (c.marks > 0) parts.push(plural(c.marks, 'GC mark'));
  if (c.pairing > 0) parts.push(plural(c.pairing, 'pairing message'));
  // Present only when the remote holds shared spaces' objects.
  if (c.identities) parts.push(plural(c.identities, 'sealed identity', 'sealed identities'));
  if (c.members) parts.push(plural(c.members, 'membership entry', 'membership entries'));
  if (c.certificates) parts.push(plural(c.certificates, 'device certificate'));
  if (c.epochs) parts.push(plural(c.epochs, 'space key epoch'));
  if (c.spaceKeys) parts.push(plural(c.spaceKeys, 'space sealed key'));
  if (c.invites) parts.push(plural(c.invites, 'invite message'));
  return `checked ${plural(c.objects, 'object')}: ${parts.join(', ')}`;
}

function describeReport(r: CheckReport): string {
  const lines = [describeCounts(r.checked, r.readData)];
  for (const p of r.problems) lines.push(`${p.kind.padEnd(12)} ${p.key}: ${p.message}; ${p.hint} (${p.code})`);
  if (r.ok) lines.push('no problems found');
  else {
    const byKind = new Map<string, number>();
    for (const p of r.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
    lines.push(`${plural(r.problems.length, 'problem')}: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  }
  return lines.join('\n');
}

/** Adds `check` to the program. */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify every object on the remote, reading only (cost: one listing plus one read per object)')
    .option('--read-data', 'also read and verify every blob chunk')
    .action(async (o: { readData?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const report = await withVault(opts, async (v) => {
        const bar = objectBar(out.json, 'checking');
        try {
          return await v.check({ readData: o.readData === true, onProgress: (p) => bar.update(p.done, p.total) });
        } finally {
          bar.stop();
        }
      });
      out.result(report, () => describeReport(report));
      // The report is the output; anything wrong makes the exit code 1 without an error line.
      if (!report.ok) process.exitCode = 1;
    });
}
