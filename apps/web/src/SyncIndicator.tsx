/**
 * The sync indicator: offline, syncing, changes waiting, or caught up, with
 * the time of the last sync and a button to sync now.
 */
import { useEffect, useState } from 'react';
import { useSyncStatus, useVault } from '@kith/react';
import { describe, isRevoked } from './session.js';

export function SyncIndicator({ onRevoked }: { onRevoked: () => void }) {
  const vault = useVault();
  const status = useSyncStatus().data;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useRelativeTimeTick();
  if (!status) return <div className="sync" data-testid="sync-status" data-state="loading" />;
  const state = status.offline ? 'offline' : status.syncing || busy ? 'syncing' : status.pending > 0 ? 'pending' : status.syncError ? 'error' : 'synced';
  const label =
    state === 'offline'
      ? 'Offline'
      : state === 'syncing'
        ? 'Syncing…'
        : state === 'pending'
          ? `${status.pending} to sync`
          : state === 'error'
            ? 'Sync failed'
            : status.caughtUp
              ? 'Up to date'
              : 'Catching up';
  const sync = () => {
    setBusy(true);
    setError('');
    vault.sync().then(
      () => setBusy(false),
      (e: unknown) => {
        setBusy(false);
        if (isRevoked(e)) onRevoked();
        else setError(describe(e));
      },
    );
  };
  const why = error || (status.syncError ? describe(status.syncError) : '');
  return (
    <div className={`sync sync-${state}`} data-testid="sync-status" data-state={state} data-caught-up={String(status.caughtUp)} title={why || undefined}>
      <span className="dot" aria-hidden="true" />
      <span data-testid="sync-label">{label}</span>
      <span className="muted small" data-testid="sync-pending" data-pending={status.pending} hidden={status.pending === 0 || state === 'pending'}>
        ({status.pending} pending)
      </span>
      <span className="muted small sync-last" data-testid="sync-last" data-time={status.lastSync ?? ''}>
        {status.lastSync ? `synced ${ago(status.lastSync)}` : 'never synced'}
      </span>
      <button className="small" data-testid="sync-now" onClick={sync} disabled={busy}>
        Sync now
      </button>
      {why && (
        <span className="visually-hidden" data-testid="sync-error">
          {why}
        </span>
      )}
    </div>
  );
}

/** Re-renders every 30 s so "synced 2 min ago" stays true. */
function useRelativeTimeTick(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 30_000);
    return () => clearInterval(t);
  }, []);
}

export function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}
