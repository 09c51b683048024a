import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRate, saturated } from './relay-runs.js';
import { judgeRate } from './report-relay.js';

test('a load run is saturated past 100 ms delivery p99 or with over 1 % of deliveries missing', () => {
  const run = { expectedPerSec: 800, seconds: 20, deliveredP99Ms: 60, missed: 0 };
  assert.equal(saturated(run), false);
  assert.equal(saturated({ ...run, deliveredP99Ms: 101 }), true);
  assert.equal(saturated({ ...run, missed: 160 }), false, '1 % of 16,000 is allowed');
  assert.equal(saturated({ ...run, missed: 161 }), true);
  assert.equal(saturated({ ...run, deliveredP99Ms: NaN }), true, 'nothing delivered counts as behind');
});

test('the sweep doubles or halves until it crosses over, then splits the gap until it closes', () => {
  assert.equal(nextRate(200, undefined), 400);
  assert.equal(nextRate(undefined, 200), 100);
  assert.equal(nextRate(200, 400), 300);
  assert.equal(nextRate(300, 400), 350);
  assert.equal(nextRate(undefined, 1), undefined, 'cannot go below 1 change/s');
  assert.equal(nextRate(2, 3), undefined);
  // Walking a relay that keeps up to 330 changes/s from 200: 400, 300, 350, 325.
  let ok: number | undefined = 200;
  let over: number | undefined;
  const tried: number[] = [];
  for (let r = nextRate(ok, over); r !== undefined && tried.length < 4; r = nextRate(ok, over)) {
    tried.push(r);
    if (r > 330) over = r;
    else ok = r;
  }
  assert.deepEqual(tried, [400, 300, 350, 325]);
});

test('the load target is met only by a run at 1,000 changes/s on 1,000 connections that kept up and wrote them all', () => {
  const verdicts: [string, boolean, string][] = [];
  const judged = (load: Record<string, number>[]): [string, boolean, string] => {
    verdicts.length = 0;
    judgeRate({ changes: 0, latency: {}, load: load.map((figures) => ({ runs: 1, figures, samples: [figures] })) }, (t, m, d) => void verdicts.push([t, m, d]));
    assert.equal(verdicts.length, 1);
    return verdicts[0]!;
  };
  const run = (rate: number, over: Record<string, number> = {}): Record<string, number> => ({
    devices: 1000,
    offeredPerSec: rate,
    changesPerSec: rate,
    expectedPerSec: rate * 4,
    seconds: 10,
    deliveredP99Ms: 40,
    missed: 0,
    relayCpuMsPerChange: 1.5,
    ...over,
  });
  assert.equal(judged([run(200), run(400, { deliveredP99Ms: 300 })])[1], false, 'the target rate was never run');
  assert.match(judged([run(200), run(400, { deliveredP99Ms: 300 })])[2], /not run.*highest rate kept up: 200 changes\/s/);
  assert.equal(judged([run(200), run(1000, { deliveredP99Ms: 150 })])[1], false, 'p99 over 100 ms');
  assert.equal(judged([run(200), run(1000, { changesPerSec: 900 })])[1], false, 'fell behind the schedule');
  assert.equal(judged([run(200), run(1000)])[1], true);
  verdicts.length = 0;
  judgeRate({ changes: 0, latency: {}, load: [{ runs: 1, figures: run(50, { devices: 100 }), samples: [] }] }, (t, m, d) => void verdicts.push([t, m, d]));
  assert.equal(verdicts.length, 0, 'a quick run judges nothing');
});
