/**
 * @module browser/pages
 * Helpers of the browser tests: a tab with a test page loaded, and code run
 * in it over the packages the page puts on `globalThis.kithWeb`.
 */
import type { Page } from 'playwright-core';
import type { ChromiumProfile } from '@kith/indexeddb/testing';

/** A new tab of `chromium` on `origin` with the page loaded, and the console messages it logs (CORS refusals show there). */
export async function openPage(chromium: ChromiumProfile, origin: string): Promise<{ page: Page; console: string[] }> {
  const page = await chromium.context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'kithWeb' in globalThis);
  return { page, console: logs };
}

/** Runs `body` (an async function body over `web`, the page's packages, and `arg`, JSON) in the page. */
export function inPage<T>(page: Page, body: string, arg: unknown): Promise<T> {
  return page.evaluate<T>(`(async (web, arg) => { ${body} })(globalThis.kithWeb, ${JSON.stringify(arg)})`);
}
