/**
 * The vault's devices: rename, revoke (another device; this one is marked),
 * and add a device with a pairing code, comparing the six-digit SAS both
 * devices show before letting it in.
 */
import { useEffect, useRef, useState } from 'react';
import type { DeviceInfo } from '@kith/core';
import type { TabVault } from '@kith/indexeddb';
import { useDevices, useVault } from '@kith/react';
import { CopyButton } from './CopyButton.js';
import { describe } from './session.js';

export function Devices({ tab, vaultUrl }: { tab: TabVault; vaultUrl: string }) {
  const { data, loading, reload } = useDevices();
  const [error, setError] = useState('');
  const [leader, setLeader] = useState(tab.tabs.leader);
  useEffect(() => {
    setLeader(tab.tabs.leader);
    return tab.tabs.onLeaderChange(setLeader);
  }, [tab]);
  const devices = [...(data ?? [])].sort((a, b) => Number(a.revoked) - Number(b.revoked) || a.addedAt.localeCompare(b.addedAt));
  return (
    <main className="journal" data-testid="devices">
      <div className="row spread">
        <h2>Devices</h2>
        <span className="muted small" data-testid="tab-role">
          {leader ? 'this tab syncs' : 'another tab syncs'}
        </span>
      </div>
      <p className="muted small">
        Vault <code data-testid="devices-vault-url">{vaultUrl}</code>
      </p>
      {loading && !data && <p className="muted">Loading…</p>}
      <ul className="devices" data-testid="device-list">
        {devices.map((d) => (
          <DeviceRow key={d.deviceId} device={d} onChanged={reload} onError={setError} />
        ))}
      </ul>
      {error && (
        <p className="error" role="alert" data-testid="devices-error">
          {error}
        </p>
      )}
      <Pair vaultUrl={vaultUrl} onAdded={reload} />
    </main>
  );
}

function DeviceRow({ device: d, onChanged, onError }: { device: DeviceInfo; onChanged: () => void; onError: (m: string) => void }) {
  const vault = useVault();
  const [name, setName] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const act = (fn: () => Promise<void>) => {
    setBusy(true);
    onError('');
    fn().then(
      () => {
        setBusy(false);
        setName(undefined);
        onChanged();
      },
      (e: unknown) => {
        setBusy(false);
        onError(describe(e));
      },
    );
  };
  return (
    <li
      className={d.revoked ? 'device revoked' : 'device'}
      data-testid="device"
      data-device-id={d.deviceId}
      data-current={String(d.current)}
      data-revoked={String(d.revoked)}
    >
      {name === undefined ? (
        <div className="device-name">
          <strong data-testid="device-name">{d.name}</strong>
          {d.current && (
            <span className="badge" data-testid="this-device">
              this device
            </span>
          )}
          {d.revoked && (
            <span className="badge warn" data-testid="device-revoked">
              removed
            </span>
          )}
          <div className="muted small">added {new Date(d.addedAt).toLocaleDateString()}</div>
        </div>
      ) : (
        <form
          className="row grow"
          onSubmit={(e) => {
            e.preventDefault();
            act(() => vault.devices.rename(d.deviceId, name.trim()));
          }}
        >
          <input data-testid="device-rename-input" value={name} onChange={(e) => setName(e.target.value)} aria-label="Device name" autoFocus />
          <button className="primary small" type="submit" data-testid="device-rename-save" disabled={busy || name.trim() === ''}>
            Save
          </button>
          <button type="button" className="small" onClick={() => setName(undefined)}>
            Cancel
          </button>
        </form>
      )}
      {!d.revoked && name === undefined && (
        <div className="row">
          <button className="small" data-testid="device-rename" onClick={() => setName(d.name)}>
            Rename
          </button>
          {!d.current && (
            <button
              className="small danger"
              data-testid="device-revoke"
              disabled={busy}
              onClick={() => {
                if (confirm(`Remove “${d.name}” from the vault? It will no longer sync or read anything new.`)) act(() => vault.devices.revoke(d.deviceId));
              }}
            >
              Remove
            </button>
          )}
        </div>
      )}
    </li>
  );
}

type PairState =
  | { readonly step: 'idle' }
  | { readonly step: 'waiting'; readonly code: string }
  | { readonly step: 'confirm'; readonly code: string; readonly name: string; readonly sas: string }
  | { readonly step: 'done'; readonly name: string }
  | { readonly step: 'failed'; readonly message: string };

/** Adding a device: this one shows a code, the new one enters it, both show the same six digits, and this one confirms. */
function Pair({ vaultUrl, onAdded }: { vaultUrl: string; onAdded: () => void }) {
  const vault = useVault();
  const [state, setState] = useState<PairState>({ step: 'idle' });
  const answer = useRef<((ok: boolean) => void) | undefined>(undefined);
  const abort = useRef<AbortController | undefined>(undefined);
  const start = () => {
    abort.current = new AbortController();
    let code = '';
    vault.devices
      .pair({
        signal: abort.current.signal,
        onCode: (c) => {
          code = c;
          setState({ step: 'waiting', code: c });
        },
        confirm: (joiner) =>
          new Promise<boolean>((resolve) => {
            answer.current = resolve;
            setState({ step: 'confirm', code, name: joiner.name, sas: joiner.sas });
          }),
      })
      .then(
        (added) => {
          setState({ step: 'done', name: added.name });
          onAdded();
        },
        (e: unknown) => setState(abort.current?.signal.aborted ? { step: 'idle' } : { step: 'failed', message: describe(e) }),
      );
  };
  const reply = (ok: boolean) => {
    answer.current?.(ok);
    answer.current = undefined;
  };
  return (
    <section className="card pair" data-testid="pair">
      <h3>Add a device</h3>
      {state.step === 'idle' || state.step === 'done' || state.step === 'failed' ? (
        <>
          {state.step === 'done' && <p data-testid="pair-done">Added “{state.name}”.</p>}
          {state.step === 'failed' && (
            <p className="error" role="alert" data-testid="pair-error">
              {state.message}
            </p>
          )}
          <p className="muted small">Shows a one-time code to enter on the new device (the Kith app’s “Join with a code”, or `kith join`).</p>
          <button data-testid="pair-start" onClick={start}>
            Show a pairing code
          </button>
        </>
      ) : (
        <>
          <p>On the new device, join the vault with:</p>
          <div className="secret">
            <code data-testid="pair-url">{vaultUrl}</code>
            <CopyButton text={vaultUrl} testid="copy-pair-url" />
          </div>
          <div className="secret">
            <code data-testid="pair-code">{state.code}</code>
            <CopyButton text={state.code} testid="copy-pair-code" />
          </div>
          {state.step === 'confirm' ? (
            <div className="sas" data-testid="pair-confirm">
              <p>“{state.name}” wants to join. Does it show these digits?</p>
              <strong className="sas-digits" data-testid="pair-sas">
                {state.sas}
              </strong>
              <div className="row">
                <button className="primary" data-testid="pair-accept" onClick={() => reply(true)}>
                  They match
                </button>
                <button className="danger" data-testid="pair-reject" onClick={() => reply(false)}>
                  They don’t
                </button>
              </div>
            </div>
          ) : (
            <p className="muted small">Waiting for the new device…</p>
          )}
          <button className="small" data-testid="pair-cancel" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        </>
      )}
    </section>
  );
}
