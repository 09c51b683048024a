/**
 * @module browser/cli-fixture
 * What the CLI ↔ browser tests share: the relay test page on 127.0.0.1, a
 * relay in this process that allows its origin, Chromium, a scratch folder,
 * and CLI devices that create vaults on the relay. The relay runs in this
 * process, so CLI runs must go through the non-blocking `kith()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from '@kith/indexeddb/testing';
import { startTestRelay, type TestRelay } from '@kith/relay-server/testing';
import { kithJsonAsync } from 'kith/testing';

export interface CliBrowserFixture {
  readonly site: StaticSite;
  readonly relay: TestRelay;
  readonly chromium: ChromiumProfile;
  readonly dir: string;
  /** A CLI device (named laptop) that created the vault `name` on the relay: its home, the vault's URL and recovery code. */
  cliVault(name: string): Promise<{ home: string; url: string; recoveryCode: string }>;
  close(): Promise<void>;
}

export async function startCliBrowserFixture(): Promise<CliBrowserFixture> {
  const script = await bundleForBrowser(fileURLToPath(new URL('./relay-page.js', import.meta.url)));
  const site = await serveStatic(pageWithScript(script));
  const relay = await startTestRelay({ allowOrigins: [site.origin] });
  const chromium = await launchChromium();
  const dir = mkdtempSync(join(tmpdir(), 'kith-cli-browser-'));
  return {
    site,
    relay,
    chromium,
    dir,
    cliVault: async (name) => {
      const home = join(dir, name);
      const url = `${relay.relay.url}/${name}`;
      const { recoveryCode } = await kithJsonAsync<{ recoveryCode: string }>(home, ['init', '--remote', url, '--name', 'laptop']);
      return { home, url, recoveryCode };
    },
    close: async () => {
      await chromium.dispose();
      await relay.stop();
      await site.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An hour: the poll and auto-sync interval of pages that must get changes by push alone. */
export const HOUR = 3_600_000;
/** Playwright waits, generous for a loaded machine. */
export const WAIT = { timeout: 120_000 };
