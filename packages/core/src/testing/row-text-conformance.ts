/**
 * @module row-text-conformance
 * Part of {@link runStoreConformance}: what a store that says it checks
 * rows' fields texts (`Store.checksRowText`) must do with a bad one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KithError, ErrorCode } from '../base/errors.js';
import { textRow } from '../ports/row-text.js';
import type { Store } from '../ports/store.js';

const STAMP = '0000000001000000000dev';

/** Texts that are not an object's JSON, though JSON5 or a lenient parser would take some of them. */
const NOT_OBJECTS = ['{a:1}', '{"a":1,}', "{'a':1}", '{"a":0x1}', '{"a":NaN}', '{"a":1}//', '{"a":', '[1]', '"s"', '1', 'null', ''];

/** Registers the test (it passes at once for a store that does not check texts: the engine parses them for it). */
export function rowTextConformance(withStore: (fn: (store: Store) => Promise<void>) => Promise<void>): void {
  test('checksRowText (where offered): a row whose fields text is not an object’s JSON is refused as KITH_INTEGRITY_CORRUPT naming it, and the write keeps nothing; an object’s text goes in', async () => {
    await withStore(async (store) => {
      if (store.checksRowText !== true) return;
      const good = Array.from({ length: 60 }, (_, i) => textRow('t', `g${i}`, STAMP, false, `{"i":${i}}`));
      for (const [k, text] of NOT_OBJECTS.entries()) {
        for (const at of [0, 30, 60]) {
          const rows = [...good];
          rows.splice(at, 0, textRow('t', `bad${k}`, STAMP, false, text));
          await assert.rejects(
            store.write((tx) => tx.putRecords(rows)),
            (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt) && e.message.includes(`t/bad${k}`),
            JSON.stringify(text),
          );
        }
      }
      assert.deepEqual(await store.read((tx) => tx.listCollections()), []);
      await store.write((tx) => tx.putRecords([...good, textRow('t', 'ws', STAMP, false, ' {"a":\t[1, {"b":null}]} ')]));
      const got = await store.read((tx) => tx.getRecords('t', ['g7', 'ws']));
      assert.deepEqual(got.get('g7')?.fields, { i: 7 });
      assert.deepEqual(got.get('ws')?.fields, { a: [1, { b: null }] });
    });
  });
}
