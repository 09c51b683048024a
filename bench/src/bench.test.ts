import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The quick benchmark runs in the test suite so the harness cannot rot. It took 149 s at load average ~20 once the
// blobs section ran restic and s3rver too, hence 300 s.
test('npm run bench -- --quick prints every contender row and writes a results file of finite positive figures', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    const out = join(dir, 'results.json');
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('./run.js', import.meta.url)), '--quick', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const row of [
      '| kith |',
      '| kith from snapshot |',
      'bootstrap from snapshot within 1.3× the floor',
      'bootstrap from snapshot faster than Yjs and Automerge',
      // The floors run beside the bootstrap from a snapshot, run for run, and each run's ratio is shown.
      'The floors ran run for run beside these bootstraps',
      '| yjs |',
      '| automerge |',
      '| floor: SQLite insert + decrypt |',
      '| folder |',
      '| S3 (s3rver, loopback) |',
      '### Local writes',
      '### Blobs',
      'bound attach MiB/s',
      'blobs: fetch ≥ ½ the floor',
      'restic backup MiB/s',
      'blobs: attach ≥ restic backup',
      'Through the S3 remote',
      '### Relay: propagation',
      '### Relay under load',
      '### CLI start',
      'CLI start: `kith get` within',
      '### Targets',
      '× the floor',
    ])
      assert.ok(r.stdout.includes(row), `missing ${row}`);
    const results = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown> & { failures: string[]; targets: { met: boolean }[]; table: string };
    assert.deepEqual(results.failures, []);
    assert.equal(results.table.trim(), r.stdout.trim());
    assert.ok(results.targets.length >= 6);
    const figures: [string, number][] = [];
    const walk = (path: string, v: unknown): void => {
      if (typeof v === 'number') figures.push([path, v]);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(`${path}.${k}`, x);
    };
    for (const k of ['bootstrap', 'local', 'remotes', 'blobs']) walk(k, results[k]);
    assert.ok(figures.length > 60, `only ${figures.length} figures`);
    for (const [path, x] of figures) assert.ok(Number.isFinite(x) && x > 0, `${path} = ${x}`);
    // Relay runs may count zero errors or missed deliveries; their latencies and rates must be real.
    const relay = results['relay'] as {
      latency: Record<string, { figures: Record<string, number> }>;
      load: { figures: Record<string, number> }[];
      loadScaleOut?: { figures: Record<string, number> }[];
    };
    for (const e of [...Object.values(relay.latency), ...relay.load, ...(relay.loadScaleOut ?? [])])
      for (const k of ['p50Ms', 'p99Ms', 'deliveredPerSec', 'deliveredP99Ms', 'relayRssMiB'])
        if (k in e.figures) assert.ok(Number.isFinite(e.figures[k]) && e.figures[k]! > 0, `relay ${k} = ${e.figures[k]}`);
    assert.deepEqual(Object.keys(relay.latency), ['embedded', 'embedded-watch', 'scale-out', 'scale-out-watch']);
    assert.equal(relay.load.length, 1);
    assert.equal(relay.loadScaleOut?.length, 1, 'the scale-out load run beside it');
    const blobs = (results['blobs'] as { figures: Record<string, number> }).figures;
    for (const k of ['putMiBs', 'getMiBs', 'floorMiBs', 'boundPutMiBs', 'boundGetMiBs', 'blobRssMiB']) assert.ok(k in blobs, `blobs lack ${k}`);
    for (const c of ['kith', 'yjs', 'automerge', 'floors'])
      assert.ok(
        figures.some(([p]) => p.startsWith(`bootstrap.1000.${c}.figures.`)),
        `no figures for ${c}`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run bench -- --quick --only scale measures the opt-in scale vault and judges its memory target', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    const out = join(dir, 'results.json');
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('./run.js', import.meta.url)), '--quick', '--only', 'scale', '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    for (const row of ['### Scale, 20,000-record vault', 'open, list and sync with peak RSS < 300 MB']) assert.ok(r.stdout.includes(row), `missing ${row}`);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { failures: string[]; scale: { figures: Record<string, number> } };
    assert.deepEqual(results.failures, []);
    for (const k of ['scaleOpenMs', 'scalePageMs', 'scaleScanMs', 'scalePutP99', 'scaleGetP99', 'scalePullMs', 'scaleRssMiB', 'scaleFillPerSec']) {
      assert.ok(Number.isFinite(results.scale.figures[k]) && results.scale.figures[k]! > 0, `${k} = ${results.scale.figures[k]}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
