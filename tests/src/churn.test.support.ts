/**
 * Churn through a real remote (issue #15): two devices update 1,000 records
 * 50 times each, snapshot and compact (grace 0, the third device being away
 * past the horizon). The remote must then hold within 2× of a fresh
 * snapshot of the live data, in bytes and in objects; a new device must
 * start from the snapshot, moving within 1.5× of it; and the device that
 * was offline through all of it must converge and keep the writes it made
 * while away.
 *
 * "A fresh snapshot of the live data" is made concretely: a brand-new vault
 * on its own location of the same remote, one device, the churned vault's
 * live records written in one batch, pushed, snapshotted and compacted
 * (grace 0). What its remote holds then (every object, listed: header,
 * registry, keys, head, its one segment, the snapshot's manifest and
 * chunks) is the yardstick: the cost of the live data with no history.
 */
import assert from 'node:assert/strict';
import { Vault, type Doc } from '@kith/core';
import { countingRemote, type CountingRemote, type Remote } from '@kith/core/adapter';
import { seededRandom } from '@kith/core/testing';
import type { Store } from '@kith/core/adapter';

/** What a remote gives the churn test. */
export interface ChurnHarness {
  /** A new client for `location` (same name, same objects); a device's client lives as long as the device. */
  openRemote(location: string): Promise<Remote>;
  /** The store of device `name`: empty the first time, the same database again after a close. */
  openStore(name: string): Promise<Store>;
}

export const RECORDS = 1000;
export const UPDATES = 50;
/** Records the offline device adds, and existing records it annotates, while away. */
const AWAY = 20;
/** Records deleted after the churn (none of them one the offline device annotates): they must stay deleted. */
const DELETED = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'];

const REMOTE_URL = 'churn://remote';
const DAY = 86_400_000;

/** Every object under `location` as the remote lists it: how many, how many bytes. */
export async function measureRemote(remote: Remote): Promise<{ objects: number; bytes: number }> {
  const items = await remote.list('');
  return { objects: items.length, bytes: items.reduce((n, i) => n + i.size, 0) };
}

/** Every record of `notes`, in id order (one page: the test's vaults hold under 2,000). */
async function docs(v: Vault): Promise<Doc[]> {
  const page = await v.list('notes', { limit: 2 * RECORDS });
  assert.ok(!page.next, 'one page holds every record');
  return page.records;
}

const body = (i: number): string => `record ${i} `.padEnd(200, String.fromCharCode(97 + (i % 26)));

export interface ChurnFigures {
  /** Before compaction. */
  history: { objects: number; bytes: number };
  churned: { objects: number; bytes: number };
  fresh: { objects: number; bytes: number };
  bootstrapBytes: number;
  bootstrapPulled: number;
}

const MANUAL = { everyHours: false } as const;

/** Runs the churn on `h` and checks every promise; returns the figures it measured. */
export async function runChurn(h: ChurnHarness): Promise<ChurnFigures> {
  // One clock for every device, moved by hand: the offline device's absence spans weeks.
  let now = Date.UTC(2026, 10, 1);
  const deps = (seed: number) => ({ random: seededRandom(seed), now: () => (now += 3) });
  const open: Vault[] = [];
  const track = (v: Vault): Vault => (open.push(v), v);
  try {
    const remoteA = countingRemote(await h.openRemote('main'));
    const { vault: a, recoveryCode } = await Vault.create({
      store: await h.openStore('A'),
      remote: remoteA,
      remoteUrl: REMOTE_URL,
      deviceName: 'A',
      // The compactions measured here are the explicit ones: none runs by itself after a sync.
      compaction: MANUAL,
      deps: deps(1),
    });
    track(a);
    await a.batch((w) => {
      for (let i = 0; i < RECORDS; i++) w.put('notes', `n${i}`, { title: `note ${i}`, body: body(i), n: 0 });
    });
    await a.push();
    const restore = async (name: string, seed: number, store: Store, remote: CountingRemote): Promise<Vault> =>
      track(await Vault.restore({ store, remote, remoteUrl: REMOTE_URL, recoveryCode, deviceName: name, compaction: MANUAL, deps: deps(seed) }));
    const b = await restore('B', 2, await h.openStore('B'), countingRemote(await h.openRemote('main')));
    await b.pull();

    // C joins, catches up, writes while offline, and is closed before any churn: its writes stay pending.
    const c = await restore('C', 3, await h.openStore('C'), countingRemote(await h.openRemote('main')));
    await c.pull();
    await c.batch((w) => {
      for (let i = 0; i < AWAY; i++) {
        w.put('notes', `away${i}`, { title: `written offline ${i}`, body: 'from C' });
        w.patch('notes', `n${i * 37}`, { offline: `C was here ${i}` });
      }
    });
    assert.equal((await c.status()).pending, 2 * AWAY);
    await c.close();
    open.splice(open.indexOf(c), 1);

    // The churn: every record updated UPDATES times, the two devices taking turns, each round synced.
    for (let round = 1; round <= UPDATES; round++) {
      const [writer, reader] = round % 2 ? [a, b] : [b, a];
      await writer.batch((w) => {
        for (let i = 0; i < RECORDS; i++) w.patch('notes', `n${i}`, { title: `note ${i} v${round}`, n: round });
      });
      await writer.sync();
      await reader.sync();
    }
    await b.batch((w) => DELETED.forEach((id) => w.delete('notes', id)));
    await b.sync();
    await a.sync();
    const snap = await a.snapshot();
    assert.equal(snap.records, RECORDS - DELETED.length);
    // C has been away past the device horizon (default 90 days), so it no longer holds compaction back.
    now += 91 * DAY;
    await b.sync();
    await a.sync();
    const live = await docs(a);
    assert.deepEqual(await docs(b), live);
    const before = await measureRemote(remoteA);
    const dry = await a.compact({ graceHours: 0, dryRun: true });
    assert.deepEqual(await measureRemote(remoteA), before, 'a dry run deletes nothing');
    const compacted = await a.compact({ graceHours: 0 });
    assert.deepEqual(compacted, dry);
    // Every segment but each writer's newest (its chain's anchor): UPDATES + 2 pushes (the first records, the deletions), two writers.
    assert.equal(compacted.deleted, UPDATES, `compaction deleted ${compacted.deleted} objects`);
    const churned = await measureRemote(remoteA);
    assert.equal(churned.objects, before.objects - compacted.deleted);
    assert.equal(churned.bytes, before.bytes - compacted.bytes);

    // The yardstick: the live records in a brand-new vault, pushed and snapshotted, its whole remote listed.
    const remoteF = countingRemote(await h.openRemote('fresh'));
    const { vault: f } = await Vault.create({ store: await h.openStore('F'), remote: remoteF, remoteUrl: REMOTE_URL, deviceName: 'F', deps: deps(4) });
    track(f);
    await f.batch((w) => {
      for (const { id, ...fields } of live) w.put('notes', id, fields);
    });
    await f.push();
    assert.equal((await f.snapshot()).records, RECORDS - DELETED.length);
    await f.compact({ graceHours: 0 });
    const fresh = await measureRemote(remoteF);
    const within = `churned and compacted: ${JSON.stringify(churned)}; fresh: ${JSON.stringify(fresh)}`;
    assert.ok(churned.bytes <= 2 * fresh.bytes, within);
    assert.ok(churned.objects <= 2 * fresh.objects, within);

    // A new device starts from the snapshot: it replays none of the churn, and downloads about what the fresh vault holds.
    const remoteD = countingRemote(await h.openRemote('main'));
    const d = await restore('D', 5, await h.openStore('D'), remoteD);
    const pulled = await d.pull();
    assert.equal(pulled.warnings, undefined);
    assert.ok(pulled.pulled < RECORDS, `D replayed ${pulled.pulled} changes instead of starting from the snapshot`);
    assert.deepEqual(await docs(d), live);
    const bootstrapBytes = remoteD.stats.bytesReceived + remoteD.stats.bytesSent;
    assert.ok(bootstrapBytes <= 1.5 * fresh.bytes, `bootstrap moved ${bootstrapBytes} bytes; the fresh vault's remote holds ${fresh.bytes}`);

    // C comes back weeks later: it converges, and what it wrote while away reaches every device.
    now += 9 * DAY;
    const back = track(await Vault.open({ store: await h.openStore('C'), remote: countingRemote(await h.openRemote('main')), deps: deps(6) }));
    await back.sync();
    for (const v of [a, b, d, back]) await v.sync();
    const final = await docs(a);
    assert.equal(final.length, RECORDS - DELETED.length + AWAY);
    for (const v of [b, d, back]) assert.deepEqual(await docs(v), final);
    const byId = new Map(final.map((r) => [r.id, r]));
    for (const id of DELETED) assert.equal(byId.get(id), undefined, `${id} came back (C held it from before its deletion)`);
    for (let i = 0; i < AWAY; i++) {
      assert.deepEqual(byId.get(`away${i}`), { id: `away${i}`, title: `written offline ${i}`, body: 'from C' });
      const annotated = byId.get(`n${i * 37}`)!;
      assert.equal(annotated['offline'], `C was here ${i}`);
      assert.equal(annotated['title'], `note ${i * 37} v${UPDATES}`, 'the churned title survives C beside its annotation');
    }
    assert.equal((await back.status()).pending, 0);
    return { history: before, churned, fresh, bootstrapBytes, bootstrapPulled: pulled.pulled };
  } finally {
    for (const v of open) await v.close().catch(() => undefined);
  }
}
