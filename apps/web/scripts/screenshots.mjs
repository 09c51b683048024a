#!/usr/bin/env node
// `npm run screenshots`: runs the web app's end-to-end test
// (tests/src/browser/web-app.test.ts) with KITH_SCREENSHOTS=1, which saves
// the main screens (1000×700) to docs/screenshots/*.png as it goes. Needs
// `npm run build` first (the test drives the built app served by a real
// `kith relay serve`).
import { spawnSync } from 'node:child_process';
import { fileURLToPath, URL } from 'node:url';
import process from 'node:process';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = spawnSync(process.execPath, ['scripts/test.mjs', 'tests/dist/browser/web-app.test.js'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KITH_SCREENSHOTS: '1' },
});
process.exit(run.status ?? 1);
