/**
 * Calling into a benchmark page: a function of an object the page put on
 * `globalThis`, with JSON arguments, and waiting on an asynchronous condition.
 * @module
 */
import type { Page } from 'playwright-core';

/** An object of async or sync functions, as a page exposes it. */
type Api = Record<string, (...args: never[]) => unknown>;

/** A typed caller of `globalThis[name]` in a page. */
export function pageApi<T extends Api>(name: string) {
  return <K extends keyof T & string>(page: Page, fn: K, ...args: Parameters<T[K]>): Promise<Awaited<ReturnType<T[K]>>> =>
    page.evaluate(([g, f, a]) => (globalThis as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>)[g]![f]!(...a), [name, fn, args] as [
      string,
      string,
      unknown[],
    ]) as Promise<Awaited<ReturnType<T[K]>>>;
}

/** Polls `check` every `everyMs` until it holds; fails after `waitMs` naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, waitMs = 180_000, everyMs = 20): Promise<void> {
  for (const end = Date.now() + waitMs; !(await check());) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
