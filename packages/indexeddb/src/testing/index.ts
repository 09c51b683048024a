/**
 * @module @kith/indexeddb/testing
 * Browser test harness (Node only): Debian's Chromium through playwright-core,
 * a static server on 127.0.0.1, and the bridge that runs a store in a page.
 */
export {
  bundleForBrowser,
  chromiumPath,
  launchChromium,
  overrideQuota,
  pageWithScript,
  serveStatic,
  type ChromiumProfile,
  type StaticSite,
} from './chromium.js';
export { openBridgePage, PageStore, type BridgePage } from './page-store.js';
