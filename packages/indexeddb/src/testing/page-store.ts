/**
 * @module page-store
 * The Node half of the conformance bridge (see page-bridge.ts): a
 * {@link Store} whose every call runs in a Chromium page, on the page's
 * `@kith/indexeddb` store and so on the browser's real IndexedDB.
 */
import { fileURLToPath } from 'node:url';
import { ErrorCode, KithError, type Store } from '@kith/core';
import { type StoreTx } from '@kith/core/adapter';
import type { Page } from 'playwright-core';
import type { PageBridge } from './page-bridge.js';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from './chromium.js';
import { decodeOutcome, encodeValues } from './wire.js';

type Bridged = { kithBridge: PageBridge };

/** Every StoreTx method; the type below fails to compile if the interface gains one not listed here. */
const METHODS = [
  'getMeta',
  'setMeta',
  'getRecords',
  'putRecords',
  'query',
  'listCollections',
  'listConflicted',
  'scanRows',
  'appendLog',
  'readLog',
  'appendOutbox',
  'readOutbox',
  'deleteOutbox',
  'countOutbox',
  'putOwnSegment',
  'getOwnSegments',
  'listOwnSegments',
  'deleteOwnSegments',
] as const satisfies readonly (keyof StoreTx)[];
/** Optional StoreTx methods the IndexedDB store does not have, so the bridge does not offer them either. */
type NotBridged = 'appendOwnOps';
const allListed: Exclude<keyof StoreTx, (typeof METHODS)[number] | NotBridged> extends never ? true : false = true;
void allListed;

/** The value of wire text from the page, or the page's error rebuilt (a KithError keeps its code). */
function unwrap(text: string): unknown {
  const outcome = decodeOutcome(text);
  if (outcome.ok) return outcome.value;
  const { name, message, code } = outcome.error;
  if (code !== undefined) throw new KithError(code as ErrorCode, message);
  const e = new Error(message);
  e.name = name;
  throw e;
}

/** A Store living in `page` (opened with {@link openPageStore}). */
export class PageStore implements Store {
  readonly #page: Page;
  readonly #id: number;

  constructor(page: Page, id: number) {
    this.#page = page;
    this.#id = id;
  }

  /** What `navigator.storage.persist()` answered in the page. */
  persisted(): Promise<boolean> {
    return this.#page.evaluate((id) => (globalThis as unknown as Bridged).kithBridge.persisted(id), this.#id);
  }

  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, 'read');
  }

  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, 'write');
  }

  async close(): Promise<void> {
    await this.#page.evaluate((id) => (globalThis as unknown as Bridged).kithBridge.close(id), this.#id);
  }

  async #transaction<T>(fn: (tx: StoreTx) => Promise<T>, mode: 'read' | 'write'): Promise<T> {
    const page = this.#page;
    const txId = unwrap(await page.evaluate(([id, m]) => (globalThis as unknown as Bridged).kithBridge.begin(id, m), [this.#id, mode] as const)) as number;
    const call = async (method: keyof StoreTx, args: unknown[]): Promise<unknown> =>
      unwrap(await page.evaluate(([t, w]) => (globalThis as unknown as Bridged).kithBridge.call(t, w), [txId, encodeValues([method, ...args])] as const));
    const tx = Object.fromEntries(METHODS.map((m) => [m, (...args: unknown[]) => call(m, args)])) as unknown as StoreTx;
    let out: T;
    try {
      out = await fn(tx);
    } catch (e) {
      // The page aborts; Node's own rejection value is what the caller gets, as from any store.
      await page.evaluate((t) => (globalThis as unknown as Bridged).kithBridge.end(t, 'abort'), txId);
      throw e;
    }
    unwrap(await page.evaluate((t) => (globalThis as unknown as Bridged).kithBridge.end(t, 'commit'), txId));
    return out;
  }
}

/** A Chromium profile with a page that runs the bridge, served from 127.0.0.1. */
export interface BridgePage {
  /** The running browser's profile (a new one after {@link BridgePage.restartBrowser}, on the same directory). */
  readonly profile: ChromiumProfile;
  readonly site: StaticSite;
  readonly page: Page;
  /** Opens the store `name` in the page. */
  open(name: string): Promise<PageStore>;
  /** Closes the page and opens a new one on the same origin and profile (a reload, with nothing in memory kept). */
  reload(): Promise<void>;
  /** Closes the browser (keeping the profile) and launches it again on the same profile. */
  restartBrowser(): Promise<void>;
  /** Closes the browser and server and removes the profile. */
  dispose(): Promise<void>;
}

let bundled: Promise<string> | undefined;

/** Launches Chromium on a fresh profile with the bridge page loaded. */
export async function openBridgePage(): Promise<BridgePage> {
  bundled ??= bundleForBrowser(fileURLToPath(new URL('./page-bridge.js', import.meta.url)));
  const site = await serveStatic(pageWithScript(await bundled));
  let profile = await launchChromium();
  const load = async (): Promise<Page> => {
    const page = await profile.context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
    await page.goto(`${site.origin}/`);
    await page.waitForFunction(() => 'kithBridge' in globalThis);
    return page;
  };
  const state = { page: await load() };
  return {
    // Getters: restartBrowser replaces both.
    get profile() {
      return profile;
    },
    site,
    get page() {
      return state.page;
    },
    async open(name) {
      const id = unwrap(await state.page.evaluate((n) => (globalThis as unknown as Bridged).kithBridge.open(n), name)) as number;
      return new PageStore(state.page, id);
    },
    async reload() {
      await state.page.close();
      state.page = await load();
    },
    async restartBrowser() {
      await profile.close();
      profile = await launchChromium(profile.dir);
      state.page = await load();
    },
    async dispose() {
      await profile.dispose();
      await site.close();
    },
  };
}
