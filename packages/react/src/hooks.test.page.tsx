// The page the Chromium test renders: two devices of one vault in the page
// (IndexedDB stores, one in-page memory remote), the hooks of device A shown
// as JSON in elements the test reads, and the README example beside them.
import { createRoot } from 'react-dom/client';
import { ErrorCode, KithError, Vault } from '@kith/core';
import { openMemoryRemote } from '@kith/core/testing';
import { openIndexedDbStore } from '@kith/indexeddb';
import { z } from 'zod';
import { KithProvider, useConflicts, useDevices, useQuery, useRecord, useSyncStatus } from './index.js';
import { App } from './readme.test.example.js';

const Note = z.object({ title: z.string().min(1), done: z.boolean().default(false) });
type Notes = ReturnType<typeof Vault.prototype.collection<typeof Note>>;

function Show({ id, value }: { id: string; value: unknown }) {
  return <pre data-testid={id}>{JSON.stringify(value ?? null)}</pre>;
}

function Panel({ notes }: { notes: Notes }) {
  const query = useQuery(notes, { order: 'title' });
  const record = useRecord(notes, 'n1');
  const status = useSyncStatus();
  const conflicts = useConflicts('notes');
  const devices = useDevices();
  return (
    <>
      <Show id="query" value={query.loading ? 'loading' : query.data?.map((n) => n.title)} />
      <Show id="record" value={record.data} />
      <Show id="status" value={status.data && { ...status.data, syncError: status.data.syncError?.message ?? null }} />
      <Show id="conflicts" value={conflicts.data?.map((c) => `${c.id}.${c.field ?? ''}`)} />
      <Show id="devices" value={devices.data?.map((d) => d.name).sort()} />
    </>
  );
}

async function setup() {
  const remote = openMemoryRemote(new Map());
  // Device A reaches the remote through a switch the test can turn off (every call then fails as an unreachable remote would).
  let down = false;
  const switched = new Proxy(remote, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (down) throw new KithError(ErrorCode.RemoteUnavailable, 'the remote is switched off (test)');
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const { vault: a, recoveryCode } = await Vault.create({
    store: await openIndexedDbStore('react-a'),
    remote: switched,
    remoteUrl: 'memory:',
    deviceName: 'page',
  });
  const b = await Vault.restore({ store: await openIndexedDbStore('react-b'), remote, remoteUrl: 'memory:', recoveryCode, deviceName: 'other' });
  // Counts the vault listeners the hooks hold, to see that unmounting releases every one.
  let listening = 0;
  const on = a.on.bind(a);
  a.on = (event, fn) => {
    listening++;
    const off = on(event, fn);
    let done = false;
    return () => {
      if (!done) listening--;
      done = true;
      off();
    };
  };
  const panel = createRoot(document.getElementById('panel')!);
  panel.render(
    <KithProvider vault={a}>
      <Panel notes={a.collection('notes', Note)} />
    </KithProvider>,
  );
  const readme = createRoot(document.getElementById('readme')!);
  readme.render(<App vault={a} />);
  Object.assign(globalThis, {
    kith: {
      a,
      b,
      notes: a.collection('notes', Note),
      otherNotes: b.collection('notes', Note),
      listening: () => listening,
      remoteDown: (on: boolean) => void (down = on),
      unmount: () => [panel, readme].forEach((root) => root.unmount()),
    },
    shown: (id: string): unknown => JSON.parse(document.querySelector(`[data-testid="${id}"]`)?.textContent ?? 'null'),
  });
}

document.body.innerHTML = '<div id="panel"></div><div id="readme"></div>';
(globalThis as unknown as { kithReady: Promise<void> }).kithReady = setup();
