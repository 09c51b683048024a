/**
 * `kith status`: how far each other active device has this device's
 * changes, from the signed acknowledgements in their heads, through real
 * `kith` processes on a folder remote and on a relay process.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith, serveRelay, type ServedRelay } from './testing/index.js';

interface Delivery {
  deviceId: string;
  name: string;
  lastSeen: string | null;
  hasYourChangesUntil: string | null;
}

const delivery = (home: string): Delivery[] => kithJson<{ delivery: Delivery[] }>(home, ['status', '--delivery']).delivery;
const of = (home: string, name: string): Delivery | undefined => delivery(home).find((d) => d.name === name);
/** When `home` wrote record `id` last, as an ISO time (the wall-clock part of its stamp). */
function writtenAt(home: string, id: string): string {
  const log = kithJson<{ hlc: string; device: string }[]>(home, ['log', 'notes', id]);
  const me = kithJson<{ deviceId: string }>(home, ['status']).deviceId;
  const stamps = log.filter((e) => e.device === me).map((e) => e.hlc);
  return new Date(parseInt(stamps.sort().at(-1)!.slice(0, 9), 36)).toISOString();
}

/** laptop, phone and tablet on `remote`; returns their homes once each has seen the others. */
function threeDevices(dir: string, remote: string): { a: string; b: string; c: string; ids: Record<string, string> } {
  const [a, b, c] = ['laptop', 'phone', 'tablet'].map((n) => join(dir, n)) as [string, string, string];
  const { recoveryCode, deviceId } = kithJson<{ recoveryCode: string; deviceId: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
  const ids: Record<string, string> = { laptop: deviceId };
  for (const [home, name] of [
    [b, 'phone'],
    [c, 'tablet'],
  ] as const) {
    ids[name] = kithJson<{ deviceId: string }>(home, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', name]).deviceId;
  }
  for (let pass = 0; pass < 2; pass++) for (const h of [a, b, c]) kithJson(h, ['sync']);
  return { a, b, c, ids };
}

/** The scenario every remote runs: returns the homes for remote-specific checks afterwards. */
function acknowledgements(dir: string, remote: string) {
  const devices = threeDevices(dir, remote);
  const { a, b, c, ids } = devices;
  // Before A writes anything: both listed (not A itself), seen, nothing of A's to have.
  assert.deepEqual(
    delivery(a).map((d) => [d.name, d.deviceId, typeof d.lastSeen, d.hasYourChangesUntil]),
    [
      ['phone', ids['phone'], 'string', null],
      ['tablet', ids['tablet'], 'string', null],
    ],
  );
  kithJson(a, ['put', 'notes', 'n1', '{"title":"one"}', '--sync']);
  const t1 = writtenAt(a, 'n1');
  assert.equal(of(a, 'phone')?.hasYourChangesUntil, null, 'phone has not synced since');
  kithJson(b, ['sync']);
  kithJson(c, ['sync']);
  kithJson(a, ['sync']);
  assert.equal(of(a, 'phone')?.hasYourChangesUntil, t1, "after phone syncs, it has A's changes up to A's last write");
  assert.equal(of(a, 'tablet')?.hasYourChangesUntil, t1);
  // A writes more; only the tablet syncs: the phone shows the older time.
  kithJson(a, ['put', 'notes', 'n2', '{"title":"two"}', '--sync']);
  const t2 = writtenAt(a, 'n2');
  assert.ok(t2 > t1);
  kithJson(c, ['sync']);
  kithJson(a, ['sync']);
  assert.equal(of(a, 'phone')?.hasYourChangesUntil, t1);
  assert.equal(of(a, 'tablet')?.hasYourChangesUntil, t2);
  const human = runKith(a, ['status']);
  assert.equal(human.status, 0, human.stderr);
  assert.match(
    human.stdout,
    new RegExp(`^  tablet has everything you wrote until ${t2.replace(/\./g, '\\.')} \\(last seen (just now|\\d+ minutes? ago)\\)$`, 'm'),
  );
  assert.match(human.stdout, new RegExp(`^  phone last seen (just now|\\d+ minutes? ago), has your changes until ${t1.replace(/\./g, '\\.')}$`, 'm'));
  // The phone's own view: the laptop has nothing of the phone's to have (null), the phone wrote nothing.
  assert.equal(of(b, 'laptop')?.hasYourChangesUntil, null);
  // --json without --delivery: status as before.
  assert.equal('delivery' in kithJson<object>(a, ['status']), false);
  return devices;
}

describe('kith status: acknowledgements', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-acks-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('folder remote: B has A up to its last write, then the older time; a tampered acknowledgement is refused; a revoked device leaves the list', () => {
    const remote = join(dir, 'remote');
    const { a, c, ids } = acknowledgements(join(dir, 'folder'), remote);
    // The remote raises the tablet's acknowledgement by one (its last byte before the signature): refused, nothing believed.
    const head = join(remote, 'heads', ids['tablet']!);
    const good = readFileSync(head);
    const forged = Buffer.from(good);
    forged[forged.length - 65]! += 1;
    writeFileSync(head, forged);
    assertError(runKith(a, ['sync']), 1, 'KITH_INTEGRITY_CORRUPT');
    const t2 = writtenAt(a, 'n2');
    assert.equal(of(a, 'tablet')?.hasYourChangesUntil, t2);
    writeFileSync(head, good);
    kithJson(a, ['sync']);
    // A revoked device leaves the list, on the revoking device and on the others once they sync.
    kithJson(a, ['devices', 'revoke', ids['tablet']!]);
    assert.deepEqual(
      delivery(a).map((d) => d.name),
      ['phone'],
    );
    assert.doesNotMatch(runKith(a, ['status']).stdout, /tablet has|tablet last seen/);
    assertError(runKith(c, ['sync']), 1, 'KITH_REVOKED');
  });

  describe('relay process', () => {
    let relay: ServedRelay;
    before(async () => {
      relay = await serveRelay(join(dir, 'relay-home'), ['--data', join(dir, 'relay-data')]);
    });
    after(async () => {
      await relay.stop();
    });

    test('relay: the same acknowledgements; a revoked device leaves the list', () => {
      const { a, b, ids } = acknowledgements(join(dir, 'relay'), `${relay.url}/family`);
      kithJson(a, ['devices', 'revoke', ids['tablet']!]);
      kithJson(b, ['sync']);
      assert.deepEqual(
        delivery(b).map((d) => d.name),
        ['laptop'],
      );
    });
  });
});
