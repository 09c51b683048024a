/**
 * The app's screens: loading, the start screen (create, restore, join), the
 * journal once this browser is a device of a vault, and the page saying
 * this device was removed (revoked) from the vault.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { TabVault } from '@kith/indexeddb';
import { KithProvider } from '@kith/react';
import { demoRestoreOf, describe, existingDevice, forgetDevice, isRevoked, openDevice, restoreVault } from './session.js';
import { Start } from './Start.js';
import { Journal } from './Journal.js';

type Screen =
  | { readonly kind: 'loading'; readonly what: string }
  | { readonly kind: 'start' }
  | { readonly kind: 'open'; readonly tab: TabVault; readonly vaultUrl: string }
  | { readonly kind: 'revoked' }
  | { readonly kind: 'failed'; readonly message: string };

/** Remembered by every tab of the origin, so a reload (even offline) still says the device was removed. */
const REVOKED_KEY = 'kith-journal:revoked';
const revokedChannel = (): BroadcastChannel => new BroadcastChannel('kith-journal-revoked');

export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: 'loading', what: 'Opening…' });
  const current = useRef<TabVault | undefined>(undefined);

  const open = useCallback(async (vaultUrl: string) => {
    setScreen({ kind: 'loading', what: 'Opening the journal…' });
    try {
      const tab = await openDevice(vaultUrl);
      current.current = tab;
      setScreen({ kind: 'open', tab, vaultUrl });
    } catch (e) {
      setScreen({ kind: 'failed', message: describe(e) });
    }
  }, []);

  const revoked = useCallback(() => {
    localStorage.setItem(REVOKED_KEY, '1');
    const tab = current.current;
    current.current = undefined;
    void tab?.close().catch(() => undefined);
    setScreen({ kind: 'revoked' });
  }, []);

  // Boot: a removed device stays removed; a device opens; the demo's fragment restores without typing; else the start screen.
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      if (localStorage.getItem(REVOKED_KEY)) return setScreen({ kind: 'revoked' });
      try {
        let url = await existingDevice();
        const demo = demoRestoreOf(location.hash);
        if (demo) history.replaceState(null, '', location.pathname + location.search);
        if (url === undefined && demo) {
          setScreen({ kind: 'loading', what: 'Restoring the demo vault…' });
          await restoreVault(demo.url, 'browser (demo)', { recoveryCode: demo.code });
          url = demo.url;
        }
        if (cancelled) return;
        if (url === undefined) setScreen({ kind: 'start' });
        else await open(url);
      } catch (e) {
        if (!cancelled) setScreen(isRevoked(e) ? { kind: 'revoked' } : { kind: 'failed', message: describe(e) });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [open]);

  // The syncing tab learns of a revocation from its auto-sync; it tells the other tabs.
  useEffect(() => {
    const channel = revokedChannel();
    channel.onmessage = () => revoked();
    return () => channel.close();
  }, [revoked]);
  useEffect(() => {
    if (screen.kind !== 'open') return;
    return screen.tab.vault.on('error', ({ error }) => {
      if (!isRevoked(error)) return;
      const channel = revokedChannel();
      channel.postMessage('revoked');
      channel.close();
      revoked();
    });
  }, [screen, revoked]);

  switch (screen.kind) {
    case 'loading':
      return (
        <main className="center" data-testid="screen-loading">
          <p className="muted">{screen.what}</p>
        </main>
      );
    case 'start':
      return <Start onReady={(url) => void open(url)} />;
    case 'open':
      return (
        <KithProvider vault={screen.tab.vault}>
          <Journal tab={screen.tab} vaultUrl={screen.vaultUrl} onRevoked={revoked} />
        </KithProvider>
      );
    case 'revoked':
      return <Removed />;
    case 'failed':
      return (
        <main className="center" data-testid="screen-failed">
          <div className="card narrow">
            <h1>Could not open the journal</h1>
            <p role="alert" data-testid="error">
              {screen.message}
            </p>
            <div className="row">
              <button data-testid="retry" onClick={() => location.reload()}>
                Try again
              </button>
              {/* A create or restore cut short (the tab closed midway) can leave a device that never opens: starting over erases it. */}
              <button
                className="danger"
                data-testid="start-over"
                onClick={() => {
                  if (confirm('Erase this browser’s copy of the journal and start over? Entries not yet synced are lost.'))
                    void forgetDevice().finally(() => location.reload());
                }}
              >
                Erase and start over
              </button>
            </div>
          </div>
        </main>
      );
  }
}

/** This device was removed from the vault by another: its keys no longer open new data. */
function Removed() {
  const [busy, setBusy] = useState(false);
  return (
    <main className="center" data-testid="screen-revoked">
      <div className="card narrow">
        <h1>This device was removed</h1>
        <p>
          Another device removed this browser from the vault. It can no longer sync, and nothing written from now on can be read here. What it held before stays
          in this browser until you erase it.
        </p>
        <button
          className="danger"
          data-testid="erase-device"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            void forgetDevice().finally(() => {
              localStorage.removeItem(REVOKED_KEY);
              location.reload();
            });
          }}
        >
          Erase this browser’s copy
        </button>
      </div>
    </main>
  );
}
