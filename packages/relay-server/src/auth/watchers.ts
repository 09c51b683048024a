/**
 * @module server/auth/watchers
 * Who holds each watch socket, so a socket whose signer the registry no
 * longer admits (a revoked device) is closed at once. Kept beside the push
 * hub rather than in it: the hub fans out, this decides who may listen.
 */
import type { WebSocket } from 'ws';

/** Close code for a socket whose device was revoked (policy violation). */
export const REVOKED_CLOSE_CODE = 1008;

/** Watch sockets by vault, with the signer each was opened as. */
export class Watchers {
  readonly #byVault = new Map<string, Map<WebSocket, string>>();

  /** Remembers that `signer` opened `socket` on `vault` until the socket closes. */
  track(vault: string, signer: string, socket: WebSocket): void {
    let sockets = this.#byVault.get(vault);
    if (!sockets) this.#byVault.set(vault, (sockets = new Map()));
    sockets.set(socket, signer);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.#byVault.get(vault) === sockets) this.#byVault.delete(vault);
    });
  }

  /** True when `vault` has an open socket. */
  has(vault: string): boolean {
    return this.#byVault.has(vault);
  }

  /** Vaults with at least one open socket. */
  vaults(): string[] {
    return [...this.#byVault.keys()];
  }

  /** Closes the sockets of `vault` whose signer `admitted` refuses; returns how many. */
  closeRefused(vault: string, admitted: (signer: string) => boolean): number {
    let n = 0;
    for (const [socket, signer] of this.#byVault.get(vault) ?? []) {
      if (!admitted(signer)) {
        socket.close(REVOKED_CLOSE_CODE, 'revoked');
        n++;
      }
    }
    return n;
  }
}
