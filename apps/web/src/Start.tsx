/**
 * The start screen: this browser becomes a device of a vault by creating
 * one, restoring one (recovery code or password), or joining one with a
 * pairing code from a device already in it.
 */
import { useRef, useState, type FormEvent } from 'react';
import { createVault, defaultRelay, describe, joinVault, restoreUrl, restoreVault, trimUrl } from './session.js';
import { CopyButton } from './CopyButton.js';

type Mode = 'create' | 'restore' | 'join';

export function Start({ onReady }: { onReady: (vaultUrl: string) => void }) {
  const [mode, setMode] = useState<Mode>('create');
  const [relay, setRelay] = useState(defaultRelay);
  const [deviceName, setDeviceName] = useState(defaultDeviceName);
  return (
    <main className="start" data-testid="screen-start">
      <header className="start-head">
        <Logo />
        <div>
          <h1>Kith Journal</h1>
          <p className="muted">
            An end-to-end encrypted journal. Your entries and photos live in this browser and sync through your relay, which sees only ciphertext.
          </p>
        </div>
      </header>
      <div className="card">
        <nav className="tabs" role="tablist">
          {(['create', 'restore', 'join'] as const).map((m) => (
            <button
              key={m}
              role="tab"
              aria-selected={mode === m}
              className={mode === m ? 'tab active' : 'tab'}
              data-testid={`start-${m}`}
              onClick={() => setMode(m)}
            >
              {m === 'create' ? 'New journal' : m === 'restore' ? 'Restore' : 'Join with a code'}
            </button>
          ))}
        </nav>
        {mode === 'create' && <Create relay={relay} deviceName={deviceName} onReady={onReady} />}
        {mode === 'restore' && <Restore relay={relay} deviceName={deviceName} onReady={onReady} />}
        {mode === 'join' && <Join deviceName={deviceName} onReady={onReady} />}
        <details className="settings">
          <summary>This device and relay</summary>
          <label>
            Device name
            <input data-testid="start-device-name" value={deviceName} onChange={(e) => setDeviceName(e.target.value)} />
          </label>
          <label>
            Relay address
            <input data-testid="start-relay-url" value={relay} onChange={(e) => setRelay(e.target.value)} inputMode="url" />
          </label>
        </details>
      </div>
    </main>
  );
}

function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 64 64" aria-hidden="true">
      <rect width="64" height="64" rx="14" fill="#2f5d50" />
      <path d="M20 16v32M20 33l16-17M25 28l13 20" stroke="#f4efe6" strokeWidth="6" strokeLinecap="round" strokeLinejoin="round" fill="none" />
      <circle cx="46" cy="46" r="5" fill="#e0a458" />
    </svg>
  );
}

function useBusy(): [boolean, string, (fn: () => Promise<void>) => Promise<void>] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError('');
    try {
      await fn();
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run];
}

function Failure({ error }: { error: string }) {
  return error ? (
    <p className="error" role="alert" data-testid="start-error">
      {error}
    </p>
  ) : null;
}

function Create({ relay, deviceName, onReady }: { relay: string; deviceName: string; onReady: (url: string) => void }) {
  const [busy, error, run] = useBusy();
  const [made, setMade] = useState<{ url: string; code: string } | undefined>();
  const [saved, setSaved] = useState(false);
  if (made) {
    return (
      <section className="pane" data-testid="created">
        <h2>Your recovery code</h2>
        <p>
          This code (with the vault URL) restores your journal on any device if you lose this one. It is shown <strong>only now</strong>: write it down or keep
          it in a password manager. Nobody, not even the relay, can recover it for you.
        </p>
        <div className="secret">
          <code data-testid="recovery-code">{made.code}</code>
          <CopyButton text={made.code} testid="copy-recovery-code" />
        </div>
        <p className="muted small">Vault URL</p>
        <div className="secret">
          <code data-testid="vault-url">{made.url}</code>
          <CopyButton text={made.url} testid="copy-vault-url" />
        </div>
        <label className="check">
          <input type="checkbox" data-testid="saved-check" checked={saved} onChange={(e) => setSaved(e.target.checked)} /> I saved the recovery code
        </label>
        <button className="primary" data-testid="saved-it" disabled={!saved} onClick={() => onReady(made.url)}>
          Open my journal
        </button>
      </section>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const { recoveryCode, vaultUrl } = await createVault(relay, deviceName);
      setMade({ url: vaultUrl, code: recoveryCode });
    });
  };
  return (
    <form className="pane" onSubmit={submit}>
      <p>Start a new journal. This browser becomes its first device; you get a recovery code to keep.</p>
      <button className="primary" type="submit" data-testid="create-vault" disabled={busy}>
        {busy ? 'Creating…' : 'Create my journal'}
      </button>
      <Failure error={error} />
    </form>
  );
}

function Restore({ relay, deviceName, onReady }: { relay: string; deviceName: string; onReady: (url: string) => void }) {
  const [busy, error, run] = useBusy();
  const [how, setHow] = useState<'code' | 'password'>('code');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [vaultUrl, setVaultUrl] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const url = how === 'code' ? restoreUrl(relay, vaultUrl, code) : trimUrl(vaultUrl);
      await restoreVault(url, deviceName, how === 'code' ? { recoveryCode: code.trim() } : { password });
      onReady(url);
    });
  };
  const urlNeeded = how === 'password';
  return (
    <form className="pane" onSubmit={submit}>
      <div className="segmented">
        <label>
          <input type="radio" name="how" data-testid="restore-with-code" checked={how === 'code'} onChange={() => setHow('code')} /> Recovery code
        </label>
        <label>
          <input type="radio" name="how" data-testid="restore-with-password" checked={how === 'password'} onChange={() => setHow('password')} /> Password
        </label>
      </div>
      {how === 'code' ? (
        <label>
          Recovery code
          <input data-testid="restore-code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" spellCheck={false} required />
        </label>
      ) : (
        <label>
          Password
          <input type="password" data-testid="restore-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
      )}
      <label>
        Vault URL{urlNeeded ? '' : ' (optional: found from the code)'}
        <input
          data-testid="restore-url"
          value={vaultUrl}
          onChange={(e) => setVaultUrl(e.target.value)}
          placeholder={`${trimUrl(relay)}/…`}
          inputMode="url"
          required={urlNeeded}
        />
      </label>
      <button className="primary" type="submit" data-testid="restore-vault" disabled={busy}>
        {busy ? 'Restoring…' : 'Restore'}
      </button>
      <Failure error={error} />
    </form>
  );
}

function Join({ deviceName, onReady }: { deviceName: string; onReady: (url: string) => void }) {
  const [busy, error, run] = useBusy();
  const [code, setCode] = useState('');
  const [vaultUrl, setVaultUrl] = useState('');
  const [sas, setSas] = useState('');
  const abort = useRef<AbortController | undefined>(undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const url = trimUrl(vaultUrl);
      abort.current = new AbortController();
      setSas('');
      try {
        await joinVault(url, deviceName, code.trim(), setSas, abort.current.signal);
      } finally {
        setSas('');
      }
      onReady(url);
    });
  };
  return (
    <form className="pane" onSubmit={submit}>
      <p>
        On a device already in the journal, choose “Add a device” (or run <code>kith pair</code>) and enter the code it shows.
      </p>
      <label>
        Vault URL
        <input data-testid="join-url" value={vaultUrl} onChange={(e) => setVaultUrl(e.target.value)} inputMode="url" required />
      </label>
      <label>
        Pairing code
        <input data-testid="join-code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" spellCheck={false} required />
      </label>
      {sas && (
        <div className="sas" data-testid="join-sas-box">
          <p>Check that the other device shows:</p>
          <strong className="sas-digits" data-testid="join-sas">
            {sas}
          </strong>
          <p className="muted small">Confirm there; this page continues once it does.</p>
        </div>
      )}
      <div className="row">
        <button className="primary" type="submit" data-testid="join-vault" disabled={busy}>
          {busy ? 'Waiting for the other device…' : 'Join'}
        </button>
        {busy && (
          <button type="button" data-testid="join-cancel" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        )}
      </div>
      <Failure error={error} />
    </form>
  );
}
