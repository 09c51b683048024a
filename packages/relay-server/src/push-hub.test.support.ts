import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { PushMessage } from '@kith/relay/protocol';

/** A stand-in for a `ws` socket in front of a PushHub: records every frame sent. */
export class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  readonly sent: PushMessage[] = [];
  send(data: Buffer): void {
    this.sent.push(JSON.parse(data.toString('utf8')) as PushMessage);
  }
  close(): void {
    this.readyState = 3;
    this.emit('close');
  }
  /** The client sends a watch request. */
  watch(req: object): void {
    this.emit('message', Buffer.from(JSON.stringify({ type: 'watch', ...req })), false);
  }
}

/** Waits until `ok()` holds (at most 10 s, then fails naming `what`). */
export const until = async (ok: () => boolean, what: string): Promise<void> => {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 5))) assert.ok(Date.now() - t0 < 10_000, what);
};

/** Lists `heads/` until the client's pushed view is seeded (the relay confirmed bodies): then the second of two listings in a row sends nothing. */
export async function seedPushedHeads(reader: { list(prefix: string): Promise<unknown>; readonly stats: { readonly lists: number } }): Promise<void> {
  for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 10))) {
    await reader.list('heads/');
    const n = reader.stats.lists;
    await reader.list('heads/');
    if (reader.stats.lists === n) return;
    assert.ok(Date.now() - t0 < 10_000, 'the view is seeded');
  }
}
