import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRemote } from '@kith/node';
import { joinInvite, openSpaceEpochKey, personKeysFromSecret, pushSpaceSegment, SpaceState, SPACE_CHAIN_START, type SpaceActor } from '@kith/core/spaces';
import { kith, kithJsonAsync as kithJson, startKith } from './testing/index.js';

type Warning = { code: string; message: string; space?: string; device?: string; person?: string; seq?: number; error?: string; reason?: string };

/** The last 32 bytes of a DER key: an Ed25519 seed or X25519 secret (PKCS#8), or the public key (SPKI). */
const raw = (der: Buffer): Uint8Array => new Uint8Array(der.subarray(der.length - 32));

/** A person with one device, outside any vault: what a modified client holds. */
function outsider(): SpaceActor {
  const sign = generateKeyPairSync('ed25519');
  const box = generateKeyPairSync('x25519');
  return {
    person: personKeysFromSecret(new Uint8Array(randomBytes(32))),
    deviceId: randomBytes(8).toString('hex'),
    signSeed: raw(sign.privateKey.export({ format: 'der', type: 'pkcs8' })),
    signPub: raw(sign.publicKey.export({ format: 'der', type: 'spki' })),
    boxSecret: raw(box.privateKey.export({ format: 'der', type: 'pkcs8' })),
    boxPub: raw(box.publicKey.export({ format: 'der', type: 'spki' })),
  };
}

const deps = { random: (n: number) => new Uint8Array(randomBytes(n)), now: Date.now };

test(
  'a reader’s forged segment on a folder remote: kith sync says KITH_SPACE_REFUSED once (JSON and text) and applies the writer’s records',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-refused-'));
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    try {
      await kithJson(a, ['init', '--remote', join(dir, 'remote-a'), '--name', 'ana']);
      await kithJson(b, ['init', '--remote', join(dir, 'remote-b'), '--name', 'ben']);
      const { spaceId } = await kithJson<{ spaceId: string }>(a, ['space', 'create', 'family']);
      const invite = async (role: string, join: (code: string) => Promise<unknown>): Promise<void> => {
        const inviting = startKith(a, ['space', 'invite', 'family', '--role', role, '--yes', '--json', '--timeout', '300']);
        await join((JSON.parse(await inviting.firstLine) as { code: string }).code);
        assert.equal((await inviting.done).code, 0);
      };
      await invite('writer', (code) => kithJson(b, ['space', 'join', code, '--name', 'Ben']));

      // Cat joins as a reader with a client of her own, which keeps her keys at hand.
      const cat = outsider();
      let remote: Awaited<ReturnType<typeof openRemote>> | undefined;
      await invite('reader', async (code) => {
        const at = code.indexOf('@');
        remote = await openRemote(code.slice(at + 1));
        await joinInvite(remote, code.slice(0, at), cat, [cat], 'Cat', { pollMs: 50, timeoutMs: 300_000 }, deps);
      });
      try {
        for (const h of [b, a]) await kithJson(h, ['sync']); // Ben's certificate; Ana's device seals the key to Ben's and Cat's
        const state = await new SpaceState(spaceId).refresh(remote!);
        const epoch = state.epochs.current!.epoch;
        const epochKey = await openSpaceEpochKey(remote!, {
          m: state.m,
          epochs: state.epochs,
          certs: state.certs,
          epoch,
          deviceId: cat.deviceId,
          boxSecret: cat.boxSecret,
        });
        assert.ok(epochKey, 'the reader holds the key');
        // Her client skips the local role check (it takes her for a writer); everything else is real: her certified device signs, the key encrypts.
        const member = state.m.member.bind(state.m);
        state.m.member = (p) => {
          const m = member(p);
          return m && p === cat.person.personId ? { ...m, role: 'writer' } : m;
        };
        const op = { c: 'notes', i: 'forged', t: `${Date.now().toString(36).padStart(9, '0')}0000`, k: 'p' as const, s: { text: 'by cat' }, a: true };
        await pushSpaceSegment(remote!, { state, me: cat, ops: [op], chain: SPACE_CHAIN_START }, deps);
      } finally {
        await remote?.close();
      }

      await kithJson(b, ['put', '--space', 'family', 'notes', 'b1', '{"by":"ben"}', '--sync']);
      // Ana, in text: one warning line on stderr, and Ben's record applied.
      const text = await kith(a, ['sync']);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stderr.split('\n').filter((l) => l.includes('KITH_SPACE_REFUSED'));
      assert.equal(lines.length, 1, text.stderr);
      assert.match(lines[0]!, /^kith: warning: space "family": refused segment 1 of device [0-9a-f]{16} \(person [0-9a-f]{32}\): .*\(KITH_SPACE_REFUSED\)$/);
      assert.ok(lines[0]!.includes(cat.deviceId) && lines[0]!.includes(cat.person.personId), lines[0]);
      assert.deepEqual(await kithJson(a, ['get', '--space', 'family', 'notes', 'b1']), { id: 'b1', by: 'ben' });
      assert.equal((await kith(a, ['get', '--space', 'family', 'notes', 'forged'])).code, 1, 'nothing of the forged segment');

      // Ben, in JSON: the warning with its fields, once.
      const first = await kithJson<{ warnings: Warning[] }>(b, ['sync']);
      const refused = first.warnings.filter((w) => w.code === 'KITH_SPACE_REFUSED');
      assert.equal(refused.length, 1, JSON.stringify(first.warnings));
      const { space, device, person, seq, error, reason } = refused[0]!;
      assert.deepEqual(
        { space, device, person, seq, error, reason },
        { space: spaceId, device: cat.deviceId, person: cat.person.personId, seq: 1, error: 'KITH_INTEGRITY_UNKNOWN_SIGNER', reason: 'not-a-writer' },
      );
      const again = await kithJson<{ warnings: Warning[] }>(b, ['sync']);
      assert.deepEqual(
        again.warnings.filter((w) => w.code === 'KITH_SPACE_REFUSED'),
        [],
      );
      assert.ok(!(await kith(a, ['sync'])).stderr.includes('KITH_SPACE_REFUSED'), 'said once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
