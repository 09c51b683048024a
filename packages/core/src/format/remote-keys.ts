/**
 * @module format/remote-keys
 * Where each object lives on a remote. Fixed-width numbers make the
 * remote's byte-order listing equal to numeric order.
 */

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export const remoteKeys = {
  vault: 'vault',
  registryEntry: (seq: number): string => `registry/${pad(seq, 12)}`,
  registryPrefix: 'registry/',
  /** `keyId` (see epochKeyId): the epoch was opened by an entry that carries its key check; absent for older epochs. */
  sealedKey: (epoch: number, recipientId: string, keyId?: string): string => `keys/${pad(epoch, 10)}/${keyId === undefined ? '' : `${keyId}/`}${recipientId}`,
  segment: (deviceId: string, seq: number): string => `segments/${deviceId}/${pad(seq, 12)}`,
  segmentPrefix: (deviceId: string): string => `segments/${deviceId}/`,
  head: (deviceId: string): string => `heads/${deviceId}`,
  headsPrefix: 'heads/',
  pairing: (pairingId: string, message: 'offer' | 'join' | 'done'): string => `pairing/${pairingId}/${message}`,
} as const;
