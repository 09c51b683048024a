/**
 * The same small app on Yjs, bundled the same way: a document persisted in
 * IndexedDB (y-indexeddb), synced through a WebSocket (y-websocket), put, list.
 * @module
 */
import { IndexeddbPersistence } from 'y-indexeddb';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

export async function app(url: string): Promise<unknown> {
  const doc = new Y.Doc();
  const local = new IndexeddbPersistence('app', doc);
  const provider = new WebsocketProvider(url, 'app', doc);
  await local.whenSynced;
  const notes = doc.getMap<Y.Map<unknown>>('notes');
  notes.set('a', new Y.Map<unknown>([['title', 'hello']]));
  const listed = [...notes.entries()].slice(0, 50).map(([id, m]) => ({ id, ...m.toJSON() }));
  provider.connect();
  return listed;
}
