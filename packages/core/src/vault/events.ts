/**
 * @module vault/events
 * The vault's events (`vault.on`): listeners per event, whose failures
 * never reach the write or sync that emitted.
 */
import type { VaultEvents } from './vault-types.js';

type Listener = (e: VaultEvents[keyof VaultEvents]) => void;

export class VaultEmitter {
  readonly #listeners = new Map<keyof VaultEvents, Set<Listener>>();

  /** Listens to an event; returns a function that stops listening. */
  on<E extends keyof VaultEvents>(event: E, fn: (e: VaultEvents[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener);
    return () => set.delete(fn as Listener);
  }

  emit<E extends keyof VaultEvents>(event: E, e: VaultEvents[E]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        fn(e);
      } catch {
        // A listener's failure must not break a write or a sync.
      }
    }
  }
}
