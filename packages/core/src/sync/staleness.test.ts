import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { DeviceRegistry, type DeviceRecord, type RegistryState } from '../identity/registry.js';
import { WarningCode } from '../base/warnings.js';
import { DEFAULT_STALE_AFTER_MS, checkStaleAfter, remoteWarnings } from './staleness.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 11, 6);
const ids = ['00000000000000a1', '00000000000000b2', '00000000000000c3', '00000000000000d4'];

function registry(revoked: Record<string, number> = {}): DeviceRegistry {
  const devices: Record<string, DeviceRecord> = {};
  for (const id of ids) {
    devices[id] = {
      name: id,
      signPub: '',
      boxPub: '',
      addedAt: 0,
      addedBy: 'recovery',
      ...(revoked[id] !== undefined ? { revoked: { lastSeq: 0, at: revoked[id], by: ids[0]! } } : {}),
    };
  }
  const state: RegistryState = { seq: 1, hashes: ['00'.repeat(32)], epoch: 0, recovery: { signPub: '', boxPub: '' }, devices };
  return new DeviceRegistry('00'.repeat(16), state);
}

test('stale remote: warned exactly when the newest timed head of a device not revoked is older than the threshold', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ device: fc.constantFrom(...ids), age: fc.option(fc.integer({ min: 0, max: 30 * DAY }), { nil: undefined }) }), { maxLength: 6 }),
      fc.constantFrom(...ids),
      fc.integer({ min: 1, max: 20 * DAY }),
      (heads, revokedId, staleAfterMs) => {
        const reg = registry({ [revokedId]: NOW - 40 * DAY });
        const given = heads.map((h) => (h.age === undefined ? { device: h.device } : { device: h.device, at: NOW - h.age }));
        const counted = given.filter((h) => h.device !== revokedId && h.at !== undefined).map((h) => h.at!);
        const expectStale = counted.length > 0 && NOW - Math.max(...counted) > staleAfterMs;
        const codes = remoteWarnings({ now: NOW, staleAfterMs, heads: given, registry: reg }).map((w) => w.code);
        assert.equal(codes.includes(WarningCode.StaleRemote), expectStale);
        // The revocation (40 days back) is older than any timed head: only no head at all (of devices not revoked) is behind it.
        const kept = given.filter((h) => h.device !== revokedId);
        assert.equal(codes.includes(WarningCode.HeadsBehindRegistry), kept.length === 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('a fresh head of a revoked device does not hide a stale remote', () => {
  const reg = registry({ [ids[2]!]: NOW - 20 * DAY });
  const heads = [
    { device: ids[0]!, at: NOW - 10 * DAY },
    { device: ids[2]!, at: NOW },
  ];
  assert.deepEqual(
    remoteWarnings({ now: NOW, staleAfterMs: DEFAULT_STALE_AFTER_MS, heads, registry: reg }).map((w) => w.code),
    [WarningCode.StaleRemote],
  );
});

test('a revocation newer than every head is reported; not when a head follows it, nor when a head has no time', () => {
  const reg = registry({ [ids[2]!]: NOW - DAY });
  const older = [{ device: ids[0]!, at: NOW - 2 * DAY }];
  const w = remoteWarnings({ now: NOW, staleAfterMs: DEFAULT_STALE_AFTER_MS, heads: older, registry: reg });
  assert.deepEqual(
    w.map((x) => x.code),
    [WarningCode.HeadsBehindRegistry],
  );
  assert.match(w[0]!.message, new RegExp(`revocation of device ${ids[2]} at .*, but every head on the remote is older \\(newest `));
  assert.deepEqual(
    remoteWarnings({ now: NOW, staleAfterMs: DEFAULT_STALE_AFTER_MS, heads: [...older, { device: ids[1]!, at: NOW - DAY + 5 }], registry: reg }),
    [],
  );
  assert.deepEqual(remoteWarnings({ now: NOW, staleAfterMs: DEFAULT_STALE_AFTER_MS, heads: [...older, { device: ids[1]! }], registry: reg }), []);
  assert.deepEqual(
    remoteWarnings({ now: NOW, staleAfterMs: DEFAULT_STALE_AFTER_MS, heads: [], registry: registry() }),
    [],
    'a fresh vault: no heads, no revocation',
  );
});

test('the threshold: default 7 days; Infinity turns it off; anything not positive is bad input', () => {
  assert.equal(checkStaleAfter(undefined), 7 * DAY);
  assert.equal(checkStaleAfter(Infinity), Infinity);
  for (const bad of [0, -1, NaN, '7' as unknown as number])
    assert.throws(
      () => checkStaleAfter(bad),
      (e: unknown) => KithError.is(e, ErrorCode.BadInput),
    );
});
