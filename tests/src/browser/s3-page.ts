/**
 * The page of the browser S3 tests (bundled by esbuild for Chromium): the
 * public packages a web app would use, on `globalThis.kithWeb`.
 */
import { Vault } from '@kith/core';
import { openIndexedDbStore } from '@kith/indexeddb';
import { openS3Remote } from '@kith/s3';

(globalThis as unknown as { kithWeb: unknown }).kithWeb = { Vault, openIndexedDbStore, openS3Remote };
