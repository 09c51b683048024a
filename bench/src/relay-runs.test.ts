import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRate, saturated } from './relay-runs.js';

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
