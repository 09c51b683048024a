/**
 * @module @kith/core/relay
 * What Kith's relay (server and client) shares with the core: the vault
 * header and registry formats it checks writes against, registry replay,
 * the remote-auth challenge, and the byte encodings its protocol uses.
 * The server never holds a vault's keys: these verify signatures only.
 * docs/FORMAT.md is the byte-level spec.
 */
export { decodeVaultHeader, encodeVaultHeader, type VaultHeader } from './format/vault-header.js';
export { encodeRegistryEntry, type PasswordParams, type RegistryChange, type RegistryEntry } from './format/registry-entry.js';
export { RegistryReplay, remoteAuthMessage, remoteDeviceKey, verifyRemoteAuth } from './identity/remote-auth.js';
export { generateDeviceKeys, newVaultId, type DeviceKeys } from './crypto/keys.js';
export { recoveryKeys } from './crypto/curves.js';
export type { BoxKeyPair, SigningKeyPair } from './crypto/primitives.js';
export { sha256 } from './crypto/primitives.js';
export { bytesEqual, bytesToHex, fromBase64url, hexToBytes, toBase64url } from './crypto/bytes.js';
