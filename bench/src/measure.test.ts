import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { median, percentile } from './measure.js';
import { medians } from './series.js';
import { parseOptions } from './options.js';
import { snapshotLines } from './report-snapshot.js';

const sample = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }), { minLength: 1, maxLength: 50 });

describe('median and percentile', () => {
  test('the median lies between the least and the greatest, and ignores order', () => {
    fc.assert(
      fc.property(sample, (xs) => {
        const m = median(xs);
        assert.ok(m >= Math.min(...xs) && m <= Math.max(...xs));
        // === rather than assert.equal: 0 and -0 tie in the sort, so either may come out as the median.
        assert.ok(median([...xs].reverse()) === m);
      }),
    );
  });
  test('median of known lists', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
  test('percentiles are members of the sample and grow with p', () => {
    fc.assert(
      fc.property(sample, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, p, q) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        assert.ok(xs.includes(percentile(xs, lo)));
        assert.ok(percentile(xs, lo) <= percentile(xs, hi));
      }),
    );
    assert.equal(percentile([5, 1, 4, 2, 3], 0.5), 3);
    assert.equal(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
      99,
    );
  });
  test('medians per field skip runs that lack the field', () => {
    assert.deepEqual(medians([{ a: 1, b: 10 }, { a: 3 }, { a: 2, b: 20 }]), { a: 2, b: 15 });
  });
});

describe('parseOptions', () => {
  test('quick and full modes, --only, --runs and --out', () => {
    const quick = parseOptions(['--quick'], '/r.json');
    assert.deepEqual(quick.sizes, [1000]);
    assert.equal(quick.runs('kith', 1000), 3);
    assert.equal(quick.runs('blobs', 8), 1);
    assert.equal(quick.out, '/r.json');
    const full = parseOptions(['--only', 'kith,floors', '--out', '/x.json'], '/r.json');
    assert.deepEqual(full.sizes, [10_000, 100_000]);
    assert.equal(full.runs('automerge', 10_000), 5);
    assert.equal(full.runs('automerge', 100_000), 3);
    // The snapshot-against-floor ratio at 10,000 records: medians of many short runs.
    assert.equal(full.runs('snapshot', 10_000), 11);
    assert.equal(full.runs('floors', 10_000), 11);
    assert.equal(full.runs('snapshot', 100_000), 3);
    assert.equal(quick.runs('snapshot', 1000), 3);
    assert.deepEqual([...full.only].sort(), ['floors', 'kith']);
    assert.equal(full.out, '/x.json');
    assert.equal(parseOptions(['--runs', '2'], '/r.json').runs('kith', 100_000), 2);
    assert.equal(full.runs('relay', 1000), 1, 'a relay run is a distribution already');
    // Scale-out relay rows get one fresh database each: a forced --runs would find it in use.
    assert.equal(parseOptions(['--runs', '3'], '/r.json').runs('relay', 1000), 1);
    assert.deepEqual([full.relay.changes, full.relay.devices, quick.relay.sweepSteps], [1000, 1000, 0]);
  });
  test('the million-record scale section runs only when --only names it, once', () => {
    assert.ok(!parseOptions([], '/r.json').only.has('scale'));
    assert.ok(!parseOptions(['--quick'], '/r.json').only.has('scale'));
    const scale = parseOptions(['--only', 'scale'], '/r.json');
    assert.deepEqual([...scale.only], ['scale']);
    assert.equal(scale.scaleN, 1_000_000);
    assert.equal(scale.runs('scale', scale.scaleN), 1);
    assert.equal(parseOptions(['--quick', '--only', 'scale'], '/r.json').scaleN, 20_000);
  });
  test('the browser section (Chromium) runs only when --only names it, so npm test never needs a browser', () => {
    assert.ok(!parseOptions([], '/r.json').only.has('browser'));
    assert.ok(!parseOptions(['--quick'], '/r.json').only.has('browser'));
    const browser = parseOptions(['--only', 'browser'], '/r.json');
    assert.deepEqual([...browser.only], ['browser']);
    assert.equal(browser.runs('browser', 0), 3);
  });
  test("the bundle sizes alone (esbuild, no Chromium) run only when --only names 'bundle'", () => {
    assert.ok(!parseOptions([], '/r.json').only.has('bundle'));
    assert.ok(!parseOptions(['--quick'], '/r.json').only.has('bundle'));
    assert.deepEqual([...parseOptions(['--only', 'bundle'], '/r.json').only], ['bundle']);
  });
  test('bad options are usage errors with a hint', () => {
    for (const argv of [['--only', 'nope'], ['--runs', '0'], ['--runs'], ['--fast']]) {
      assert.throws(
        () => parseOptions(argv, '/r.json'),
        (e: Error & { code?: string; hint?: string }) => e.code === 'KITH_USAGE' && typeof e.hint === 'string',
        argv.join(' '),
      );
    }
  });
});

describe('snapshot report', () => {
  test('shows the CPU time of the bootstrap beside the floor CPU, and still judges the wall time', () => {
    const entry = (figures: Record<string, number>) => ({ runs: 1, figures, samples: [figures] });
    const judged: [string, boolean][] = [];
    const lines = snapshotLines(
      10_000,
      {
        snapshot: entry({ bootstrapMs: 300, bootstrapCpuMs: 200, snapshotMs: 1, snapshotBytes: 1, snapshotRequests: 1, bootstrapRequests: 1 }),
        floors: entry({ insertMs: 100, decryptMs: 100, insertCpuMs: 60, decryptCpuMs: 40 }),
      },
      200,
      (target, met) => void judged.push([target, met]),
    );
    assert.ok(lines.includes('CPU time: bootstrap from snapshot 200 ms vs floor 100 ms (2.00×).'), lines.join('\n'));
    assert.deepEqual(judged, [['10,000 records: bootstrap from snapshot within 1.3× the floor', false]]);
  });
});
