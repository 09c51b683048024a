/**
 * The page of the browser relay tests (bundled by esbuild for Chromium): the
 * public packages a web app would use, on `globalThis.kithWeb`.
 */
import { Vault } from '@kith/core';
import { openIndexedDbStore } from '@kith/indexeddb';
import { openRelayRemote } from '@kith/relay';

(globalThis as unknown as { kithWeb: unknown }).kithWeb = { Vault, openIndexedDbStore, openRelayRemote };
