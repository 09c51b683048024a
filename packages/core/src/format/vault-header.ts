/**
 * @module format/vault-header
 * The `vault` object: identifies the vault and pins the recovery public keys.
 */
import { ObjectReader, ObjectType, ObjectWriter, SUITE, corrupt } from './framing.js';

export const VAULT_DOMAIN = 'kith/v1/vault';

export interface VaultHeader {
  readonly vaultId: string;
  readonly createdAt: number;
  readonly founder: string;
  readonly recoverySignPub: Uint8Array;
  readonly recoveryBoxPub: Uint8Array;
}

export function encodeVaultHeader(h: VaultHeader, recoverySignSeed: Uint8Array): Promise<Uint8Array> {
  return new ObjectWriter(ObjectType.Vault)
    .u8(SUITE)
    .hex(h.vaultId, 16)
    .u64(h.createdAt)
    .hex(h.founder, 8)
    .bytes(h.recoverySignPub)
    .bytes(h.recoveryBoxPub)
    .sign(VAULT_DOMAIN, h.vaultId, recoverySignSeed);
}

/**
 * Decodes and verifies the header against the recovery key it carries.
 * Callers must still compare `recoverySignPub` with the key their recovery
 * code derives or the one they pinned at join time.
 */
export async function decodeVaultHeader(bytes: Uint8Array): Promise<VaultHeader> {
  const r = new ObjectReader(bytes, 'the vault header', ObjectType.Vault);
  const suite = r.u8();
  if (suite !== SUITE) throw corrupt('the vault header', `unknown cipher suite ${suite}`);
  const vaultId = r.hex(16);
  const createdAt = r.u64();
  const founder = r.hex(8);
  const recoverySignPub = r.take(32).slice();
  const recoveryBoxPub = r.take(32).slice();
  await r.verify(VAULT_DOMAIN, vaultId, recoverySignPub);
  return { vaultId, createdAt, founder, recoverySignPub, recoveryBoxPub };
}
