import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes } from '../crypto/index.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import type { BackupSource } from './backup.js';
import { Vault } from './vault.js';
import type { Doc } from './vault-types.js';

type Step =
  | { kind: 'put'; dev: 0 | 1; id: string; n: number }
  | { kind: 'patch'; dev: 0 | 1; id: string; n: number }
  | { kind: 'delete'; dev: 0 | 1; id: string }
  | { kind: 'sync'; dev: 0 | 1 }
  | { kind: 'backup' };

const id = fc.constantFrom('r1', 'r2', 'r3', 'r4');
const dev = fc.constantFrom(0 as const, 1 as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), dev, id, n: fc.nat(99) }),
  fc.record({ kind: fc.constant('patch' as const), dev, id, n: fc.nat(99) }),
  fc.record({ kind: fc.constant('delete' as const), dev, id }),
  fc.record({ kind: fc.constant('sync' as const), dev }),
  fc.constant({ kind: 'backup' as const }),
);

async function everything(v: Vault): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const page of v.exportRecords()) out.push(...page.records.map((r) => ({ ...r, c: page.collection })));
  return out;
}

/** Tolerates writes the model makes on records that are not live (the library refuses them, changing nothing). */
async function attempt(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    if (!KithError.is(e, ErrorCode.NotFound)) throw e;
  }
}

test('property: a chain of a full and incremental backups, written between any writes and syncs of two devices, restores the state of its newest file', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), fc.integer(), async (steps, seed) => {
      const remote = new Map<string, Uint8Array>();
      const { vault: a, recoveryCode } = await Vault.create({
        store: openMemoryStore(newMemoryStoreData()),
        remote: openMemoryRemote(remote),
        remoteUrl: 'memory:',
        deps: { random: seededRandom(seed) },
      });
      // B's clock is an hour behind: its writes pulled after a backup carry stamps older than A's at that backup.
      const b = await Vault.restore({
        store: openMemoryStore(newMemoryStoreData()),
        remote: openMemoryRemote(remote),
        remoteUrl: 'memory:',
        recoveryCode,
        deps: { now: () => Date.now() - 3600_000 },
      });
      const devices = [a, b];
      const files = new Map<string, Uint8Array>();
      const source = (name: string): BackupSource => ({
        name,
        open: async function* () {
          yield files.get(name)!;
        },
      });
      let newest: string | undefined;
      let expected: Doc[] = [];
      const backup = async (): Promise<void> => {
        const name = `b${files.size}.kbk`;
        const parts: Uint8Array[] = [];
        await a.backup({ write: async (bytes) => void parts.push(bytes), ...(newest ? { previous: source(newest) } : {}) });
        files.set(name, concatBytes(...parts));
        newest = name;
        expected = await everything(a);
      };
      try {
        for (const s of [...steps, { kind: 'sync', dev: 0 } as const, { kind: 'backup' } as const]) {
          if (s.kind === 'backup') await backup();
          else if (s.kind === 'sync') await devices[s.dev]!.sync();
          else if (s.kind === 'put') await devices[s.dev]!.put('c', s.id, { n: s.n, by: s.dev });
          else if (s.kind === 'patch') await attempt(() => devices[s.dev]!.patch('c', s.id, { p: s.n }));
          else await attempt(() => devices[s.dev]!.delete('c', s.id));
        }
        const { vault: r } = await Vault.restoreFromBackup({
          store: openMemoryStore(newMemoryStoreData()),
          remote: openMemoryRemote(new Map()),
          remoteUrl: 'memory:',
          recoveryCode,
          backup: source(newest!),
          beside: (name) => (files.has(name) ? source(name) : undefined),
        });
        assert.deepEqual(await everything(r), expected);
        assert.equal(r.vaultId, a.vaultId);
        await r.close();
      } finally {
        await a.close();
        await b.close();
      }
    }),
    {
      numRuns: 40,
      examples: [
        [[{ kind: 'put', dev: 0, id: 'r1', n: 1 }, { kind: 'backup' }, { kind: 'delete', dev: 0, id: 'r1' }], 1],
        [[{ kind: 'put', dev: 0, id: 'r1', n: 1 }, { kind: 'backup' }, { kind: 'put', dev: 1, id: 'r2', n: 2 }, { kind: 'sync', dev: 1 }], 2],
      ],
    },
  );
});
