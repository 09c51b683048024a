import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { blobKeys, parseBlobRef } from '../format/blob-format.js';
import { noise, twoDevices } from './blobs.test.support.js';

const DAY = 86400_000;
/** Blobs are prefixes of one stream, so they share all chunks but their last: GC meets chunks several manifests name. */
const STREAM = noise(3 * 1024 * 1024, 97);
const SIZES = [700_000, 1_400_000, 2_100_000, 3 * 1024 * 1024];

type Step =
  | { kind: 'attach'; note: number; size: number } // attach a blob and write a note referencing it (unpushed)
  | { kind: 'drop'; note: number } // delete a note (unpushed)
  | { kind: 'push' }
  | { kind: 'gc' } // the other device pulls and collects
  | { kind: 'trim' } // the uploader trims its cache to nothing that may go
  | { kind: 'wait'; days: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('attach' as const), note: fc.nat(2), size: fc.constantFrom(...SIZES) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('drop' as const), note: fc.nat(2) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'push' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'gc' as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'trim' as const }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), days: fc.constantFrom(1, 8) }), weight: 3 },
);

test('property: whatever the order of attaches, deletes, pushes, cache trims, waits and another device GC, after a push every blob a note references is whole on the remote', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
      const { vault, other, objects, advance } = await twoDevices();
      const notes = new Map<number, string>(); // note → the ref it holds
      const whole = async (ref: string): Promise<boolean> => {
        if (!objects.has(blobKeys.manifest(parseBlobRef(ref)))) return false;
        return (await vault.blobs.manifest(ref)).chunks.every(([c]) => objects.has(blobKeys.chunk(c)));
      };
      const pushAndCheck = async (): Promise<void> => {
        await vault.sync();
        for (const [note, ref] of notes) assert.ok(await whole(ref), `note ${note}'s blob after ${JSON.stringify(steps)}`);
      };
      for (const s of steps) {
        if (s.kind === 'attach') {
          const { ref } = await vault.blobs.put(STREAM.subarray(0, s.size));
          await vault.put('notes', `n${s.note}`, { file: ref });
          notes.set(s.note, ref);
        } else if (s.kind === 'drop' && notes.has(s.note)) {
          await vault.delete('notes', `n${s.note}`);
          notes.delete(s.note);
        } else if (s.kind === 'push') await pushAndCheck();
        else if (s.kind === 'gc') {
          await other.sync();
          await other.blobs.gc();
        } else if (s.kind === 'trim') await vault.blobs.prefetch({ cacheBytes: 0 });
        else if (s.kind === 'wait') advance(s.days * DAY);
      }
      await pushAndCheck();
    }),
    { numRuns: 60 },
  );
});
