/**
 * The journal once the vault is open: the header (sync indicator, views),
 * the list of entries with search and a tag filter, an entry with its
 * photos and conflicts, the editor, and the devices.
 */
import { useMemo, useState } from 'react';
import type { TabVault } from '@kith/indexeddb';
import { useConflicts, useQuery } from '@kith/react';
import { ENTRIES, entryOf, filterEntries, type Entry } from './entries.js';
import { SyncIndicator } from './SyncIndicator.js';
import { Devices } from './Devices.js';
import { EntryView } from './EntryView.js';
import { EntryEditor } from './EntryEditor.js';
import { Logo } from './Start.js';
import { Tags } from './Tags.js';

type View =
  { readonly kind: 'list' } | { readonly kind: 'entry'; readonly id: string } | { readonly kind: 'edit'; readonly id?: string } | { readonly kind: 'devices' };

export function Journal({ tab, vaultUrl, onRevoked }: { tab: TabVault; vaultUrl: string; onRevoked: () => void }) {
  const [view, setView] = useState<View>({ kind: 'list' });
  const { data: docs, loading, error } = useQuery(ENTRIES);
  const entries = useMemo(() => (docs ?? []).map(entryOf), [docs]);
  const conflicts = useConflicts(ENTRIES).data;
  const conflicted = useMemo(() => new Set((conflicts ?? []).map((c) => c.id)), [conflicts]);

  return (
    <div className="shell" data-testid="screen-journal">
      <header className="top">
        <button className="brand" data-testid="nav-journal" onClick={() => setView({ kind: 'list' })}>
          <Logo />
          <span>Journal</span>
        </button>
        <SyncIndicator onRevoked={onRevoked} />
        <nav className="nav">
          <button className={view.kind === 'devices' ? 'active' : ''} data-testid="nav-devices" onClick={() => setView({ kind: 'devices' })}>
            Devices
          </button>
          <button className="primary" data-testid="new-entry" onClick={() => setView({ kind: 'edit' })}>
            New entry
          </button>
        </nav>
      </header>
      {error && (
        <p className="error" role="alert" data-testid="journal-error">
          {error.message}
        </p>
      )}
      {view.kind === 'list' && <EntryList entries={entries} loading={loading} conflicted={conflicted} onOpen={(id) => setView({ kind: 'entry', id })} />}
      {view.kind === 'entry' && (
        <EntryView
          entry={entries.find((e) => e.id === view.id)}
          conflicts={(conflicts ?? []).filter((c) => c.id === view.id)}
          onEdit={() => setView({ kind: 'edit', id: view.id })}
          onClose={() => setView({ kind: 'list' })}
        />
      )}
      {view.kind === 'edit' && (
        <EntryEditor
          entry={view.id === undefined ? undefined : entries.find((e) => e.id === view.id)}
          onDone={(id) => setView(id ? { kind: 'entry', id } : { kind: 'list' })}
        />
      )}
      {view.kind === 'devices' && <Devices tab={tab} vaultUrl={vaultUrl} />}
    </div>
  );
}

function EntryList({ entries, loading, conflicted, onOpen }: { entries: Entry[]; loading: boolean; conflicted: Set<string>; onOpen: (id: string) => void }) {
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const tags = useMemo(() => [...new Set(entries.flatMap((e) => e.tags))].sort(), [entries]);
  const shown = useMemo(() => filterEntries(entries, search, tag), [entries, search, tag]);
  return (
    <main className="journal">
      <div className="toolbar">
        <input
          type="search"
          placeholder="Search entries"
          aria-label="Search entries"
          data-testid="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <select aria-label="Filter by tag" data-testid="tag-filter" value={tag} onChange={(e) => setTag(e.target.value)}>
          <option value="">All tags</option>
          {tags.map((t) => (
            <option key={t} value={t}>
              #{t}
            </option>
          ))}
        </select>
      </div>
      {loading && entries.length === 0 ? (
        <p className="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p className="empty muted" data-testid="no-entries">
          {entries.length === 0 ? 'No entries yet. Write the first one with “New entry”.' : 'No entry matches.'}
        </p>
      ) : (
        <ul className="entries" data-testid="entry-list" data-count={shown.length}>
          {shown.map((e) => (
            <li key={e.id}>
              <button className="entry-card" data-testid="entry-card" data-entry-id={e.id} onClick={() => onOpen(e.id)}>
                <div className="entry-meta">
                  <time className="muted small">{e.date || 'undated'}</time>
                  {conflicted.has(e.id) && (
                    <span className="badge warn" data-testid="conflict-badge">
                      conflict
                    </span>
                  )}
                </div>
                <h3 data-testid="entry-title">{e.title || 'Untitled'}</h3>
                {e.text && <p className="excerpt">{e.text.slice(0, 220)}</p>}
                {e.photos.length > 0 && (
                  <div className="thumbs">
                    {e.photos.slice(0, 4).map((p) => (p.thumb ? <img key={p.ref} src={p.thumb} alt={p.name} data-testid="entry-thumb" /> : null))}
                  </div>
                )}
                <Tags tags={e.tags} />
              </button>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
