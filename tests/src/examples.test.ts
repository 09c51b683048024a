import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The README's library example must run as printed.
test('examples/two-devices.mjs runs and converges', () => {
  const script = fileURLToPath(new URL('../../examples/two-devices.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /recovery code: [0-9A-Z]{4}(-[0-9A-Z]{4}){7}/);
  assert.match(r.stdout, /phone caught up \(3 changes\)/);
  assert.match(r.stdout, /phone sees pinned: Books, Groceries/);
  assert.match(r.stdout, /conflict on body/);
  assert.match(r.stdout, /phone has: oat milk, eggs, bread/);
});

// `npm start`, the README's first command after install: a relay and two devices, real processes.
test('npm start (the demo) runs a relay and two devices, syncs in real time, and converges', () => {
  const demo = fileURLToPath(new URL('../../packages/cli/dist/demo.js', import.meta.url));
  const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /kith relay serve +→ listening on http:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /the phone had it \d+ ms after/);
  assert.match(r.stdout, /Converged: identical records and conflicts on both devices/);
});
