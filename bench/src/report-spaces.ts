/**
 * The shared-space section (issue #16's benchmark): a new member's device
 * bootstrapping a space of N records, its second device, and removing a
 * member, beside the personal-space bootstrap of the same N records (the
 * `kith` row of the bootstrap table). The issue sets no target for it.
 * @module
 */
import { num, ms } from './report-format.js';
import type { Entry } from './series.js';

/** Lines of the spaces section; none when it did not run. `personal` is the kith row's bootstrap of the same N, if measured. */
export function spacesLines(s: (Entry & { n: number }) | undefined, personal: number | undefined): string[] {
  if (!s) return [];
  const f = s.figures;
  const count = s.n.toLocaleString('en-US');
  return [
    '',
    `### Shared space: 5 people × 2 devices, ${count} records (${s.runs} runs)`,
    '',
    '| founder batch ms | founder push ms | new member: join ms | bytes | requests | peak RSS MiB | their 2nd device ms | bytes | requests | remove a member ms | bytes | requests |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${ms(f['batchMs'])} | ${ms(f['pushMs'])} | ${ms(f['bootstrapMs'])} | ${num(f['bootstrapBytes'])} | ${num(f['bootstrapRequests'])} | ${num(f['bootstrapRssMiB'])} | ${ms(f['secondDeviceMs'])} | ${num(f['secondDeviceBytes'])} | ${num(f['secondDeviceRequests'])} | ${ms(f['removeMs'])} | ${num(f['removeBytes'])} | ${num(f['removeRequests'])} |`,
    '',
    "The new member's join runs from the code in hand to the space pulled (the admin confirming at once); its bytes and requests are those of the member's space remote. The second device's figure is its sync, the first device's sync that shares the key with it, and its sync again.",
    personal !== undefined && f['bootstrapMs'] !== undefined
      ? `Beside the personal space: a new device's bootstrap of the same ${count} records (the kith row) took ${ms(personal)} ms; the new member's = ${num(f['bootstrapMs'] / personal, 2)} × that.`
      : `The personal-space bootstrap of ${count} records is the kith row of the bootstrap table (not run this time).`,
    'Removing a member writes a membership entry, a new key epoch and the epoch key sealed to each remaining device (8 here).',
  ];
}
