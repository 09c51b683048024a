/**
 * For CLI tests of what a modified client can do in a space: a person with
 * one device outside any vault (its keys at hand), and a space `family`
 * founded by ana's `kith` with ben's vault beside it, inviting through
 * real `kith space invite` processes.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { personKeysFromSecret, type SpaceActor } from '@kith/core/spaces';
import { kithJsonAsync as kithJson, startKith } from './testing/index.js';

/** The last 32 bytes of a DER key: an Ed25519 seed or X25519 secret (PKCS#8), or the public key (SPKI). */
const raw = (der: Buffer): Uint8Array => new Uint8Array(der.subarray(der.length - 32));

/** A person with one device, outside any vault: what a modified client holds. */
export function outsider(): SpaceActor {
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

export const deps = { random: (n: number) => new Uint8Array(randomBytes(n)), now: Date.now };

/** Ana's and ben's vaults under `dir` (homes `a` and `b`, folder remotes of their own) and ana's space `family`. */
export async function anasFamily(dir: string) {
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  await kithJson(a, ['init', '--remote', join(dir, 'remote-a'), '--name', 'ana']);
  await kithJson(b, ['init', '--remote', join(dir, 'remote-b'), '--name', 'ben']);
  const { spaceId } = await kithJson<{ spaceId: string }>(a, ['space', 'create', 'family']);
  /** Ana invites someone with `role`; `join` answers the code. */
  const invite = async (role: string, join: (code: string) => Promise<unknown>): Promise<void> => {
    const inviting = startKith(a, ['space', 'invite', 'family', '--role', role, '--yes', '--json', '--timeout', '300']);
    await join((JSON.parse(await inviting.firstLine) as { code: string }).code);
    assert.equal((await inviting.done).code, 0);
  };
  return { a, b, spaceId, invite };
}
