/**
 * @module server/scale-out/shared-secret
 * The auth secret every relay process of a deployment shares, so a token
 * one process issued is good at the others: read from `KITH_RELAY_SECRET`
 * or a file, never from the command line (where `ps` shows it).
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError } from '@kith/core/adapter';

/** Shortest secret accepted, in bytes (HMAC-SHA256 gains nothing from a longer one). */
export const MIN_SECRET_BYTES = 32;

/**
 * The secret's bytes: the UTF-8 text as given, less a trailing newline
 * (so `openssl rand -hex 32 > secret` works). Throws KITH_USAGE when it is
 * shorter than {@link MIN_SECRET_BYTES}.
 *
 * @example
 * const authSecret = parseRelaySecret(process.env.KITH_RELAY_SECRET!, 'KITH_RELAY_SECRET');
 */
export function parseRelaySecret(text: string, from: string): Uint8Array {
  const bytes = new TextEncoder().encode(text.replace(/\r?\n$/, ''));
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new KithError(ErrorCode.Usage, `the relay secret in ${from} is ${bytes.length} bytes; it needs at least ${MIN_SECRET_BYTES}`, {
      hint: 'make one with `openssl rand -hex 32`',
    });
  }
  return bytes;
}

/** The secret from `file` when given, else from `KITH_RELAY_SECRET`; undefined when neither is set. */
export function relaySecretFrom(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Uint8Array | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KithError(ErrorCode.BadInput, `cannot read the relay secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    return parseRelaySecret(text, file);
  }
  const v = env['KITH_RELAY_SECRET'];
  return v === undefined || v === '' ? undefined : parseRelaySecret(v, 'KITH_RELAY_SECRET');
}
