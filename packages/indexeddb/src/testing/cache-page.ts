/**
 * @module testing/cache-page
 * The page of the blob cache tests (bundled by the test harness): the
 * cache, and the core's Vault with an in-page remote, for scenarios that
 * run inside Chromium.
 */
import { Vault } from '@kith/core';
import { openMemoryRemote } from '@kith/core/testing';
import { openIndexedDbStore } from '../idb-store.js';
import { openBrowserBlobCache } from '../blob-cache/index.js';

(globalThis as unknown as { kithBlobCache: unknown }).kithBlobCache = { openBrowserBlobCache, openIndexedDbStore, Vault, openMemoryRemote };
