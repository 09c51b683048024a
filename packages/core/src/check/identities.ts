/**
 * @module check/identities
 * The person's identity sealed to each device (`keys/identity/<deviceId>`,
 * FORMAT.md "Person identity"). The one sealed to this device is opened
 * as the spaces layer opens it (signer, decryption, the secret deriving
 * the keys it names); the others can only have their addressing, signer
 * and signature checked, and must name the same person. Once the person
 * has an identity, every device the registry admits should hold it. The
 * copies sealed to the recovery and password keys (`keys/identity/recovery|password`)
 * are checked as another device's are; a password copy with no password
 * set is left over.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { ObjectReader, ObjectType, corrupt } from '../format/framing.js';
import { isPersonConsistent, openIdentity, sealedIdentityKey, SEALED_IDENTITY_DOMAIN, type PersonPublic } from '../spaces/person.js';
import type { CheckRun } from './run.js';

const RESEAL = 'remove it; a device that holds the identity can seal it again';

export async function checkIdentities(run: CheckRun): Promise<void> {
  const { ctx, log, layout } = run;
  if (layout.identities.size === 0) return;
  log.counts.identities = 0;
  // A signer revoked since still sealed validly before: an identity object carries no epoch to judge it by.
  const signerPub = (id: string): Uint8Array | undefined => run.registry.deviceSignPub(id);
  const named = new Map<string, PersonPublic>();
  let own: PersonPublic | undefined;
  for (const [deviceId, key] of [...layout.identities].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const byKey = deviceId === 'recovery' || deviceId === 'password';
    if (deviceId === 'password' && !run.registry.passwordParams()) {
      log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        'the identity sealed to the password key, with no password set',
        'harmless, and safe to delete',
      );
      continue;
    }
    const device = byKey ? undefined : run.registry.device(deviceId);
    if (!byKey && !device) {
      log.add('foreign', key, ErrorCode.UnknownDevice, `the identity sealed to ${deviceId} is addressed to a device this vault never added`, 'delete it');
      continue;
    }
    if (device?.revoked) {
      log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        `the identity sealed to device ${deviceId}, revoked since: no device opens it`,
        'harmless, and safe to delete',
      );
      continue;
    }
    const bytes = await run.read(key);
    if (!bytes) continue;
    try {
      if (deviceId === ctx.deviceId) {
        own = (await openIdentity(bytes, { vaultId: ctx.vaultId, recipientId: deviceId, recipientBoxSecret: ctx.boxSecret, signerPub })).person;
        named.set(key, own);
      } else named.set(key, await verifySealedIdentity(bytes, ctx.vaultId, deviceId, signerPub));
    } catch (e) {
      log.failed(key, e, RESEAL);
    }
  }
  const person = own ?? mostNamed(named);
  for (const [key, p] of named) {
    if (samePerson(p, person)) log.counts.identities++;
    else
      log.add(
        'damaged',
        key,
        ErrorCode.IntegrityCorrupt,
        `the identity sealed here is person ${p.personId}, not this vault's person ${person.personId}`,
        RESEAL,
      );
  }
  for (const [deviceId, d] of run.registry.devices()) {
    if (d.revoked || layout.identities.has(deviceId)) continue;
    log.add(
      'missing',
      sealedIdentityKey(deviceId),
      ErrorCode.NotFound,
      `the person's identity is not sealed to device ${deviceId}`,
      'that device cannot act for the person in shared spaces; a device that holds the identity can seal it to it',
    );
  }
}

const samePerson = (a: PersonPublic, b: PersonPublic): boolean =>
  a.personId === b.personId && bytesEqual(a.signPub, b.signPub) && bytesEqual(a.boxPub, b.boxPub);

/** The person most objects name (the first in key order on a tie). */
function mostNamed(named: ReadonlyMap<string, PersonPublic>): PersonPublic {
  const votes = new Map<string, { p: PersonPublic; n: number }>();
  for (const p of named.values()) {
    const id = `${p.personId}${p.boxPub.join()}${p.signPub.join()}`;
    const v = votes.get(id) ?? { p, n: 0 };
    votes.set(id, { p, n: v.n + 1 });
  }
  let best: { p: PersonPublic; n: number } | undefined;
  for (const v of votes.values()) if (!best || v.n > best.n) best = v;
  return best?.p ?? { personId: '', signPub: new Uint8Array(0), boxPub: new Uint8Array(0) };
}

/** What can be checked of an identity sealed to another device: framing, addressing, the person's id against its key, and the signer's signature. */
async function verifySealedIdentity(
  bytes: Uint8Array,
  vaultId: string,
  recipientId: string,
  signerPub: (id: string) => Uint8Array | undefined,
): Promise<PersonPublic> {
  const what = `sealed identity for ${recipientId}`;
  const r = new ObjectReader(bytes, what, ObjectType.SealedIdentity);
  const person = { personId: r.hex(16), signPub: r.take(32).slice(), boxPub: r.take(32).slice() };
  const recipient = r.shortText();
  if (recipient !== recipientId) throw corrupt(what, `it is addressed to ${recipient}`);
  const signer = r.hex(8);
  r.take(32 + 48); // the ephemeral key and the sealed secret, which only the recipient opens
  const pub = signerPub(signer);
  if (!pub) throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signer}, which is not a device of this vault`);
  await r.verify(SEALED_IDENTITY_DOMAIN, vaultId, pub);
  if (!isPersonConsistent(person)) throw corrupt(what, 'the personId is not the one its key stands for');
  return person;
}
