/**
 * One entry: its text, tags and photos (the full size fetched only when a
 * photo is opened), and its conflicts, each with a way to pick a side.
 */
import { useEffect, useState } from 'react';
import type { Conflict, JsonValue } from '@kith/core';
import { useDevices, useVault } from '@kith/react';
import { ENTRIES, type Entry, type Photo } from './entries.js';
import { formatBytes, fullSize } from './photos.js';
import { describe } from './session.js';
import { Tags } from './Tags.js';

export function EntryView({ entry, conflicts, onEdit, onClose }: { entry: Entry | undefined; conflicts: Conflict[]; onEdit: () => void; onClose: () => void }) {
  const vault = useVault();
  const [open, setOpen] = useState<Photo | undefined>();
  const [error, setError] = useState('');
  if (!entry) {
    return (
      <main className="journal" data-testid="entry-view">
        <p className="muted" data-testid="entry-missing">
          This entry was deleted.
        </p>
        <button onClick={onClose}>Back</button>
      </main>
    );
  }
  const remove = () => {
    if (!confirm(`Delete “${entry.title || 'Untitled'}”?`)) return;
    vault.delete(ENTRIES, entry.id).then(onClose, (e: unknown) => setError(describe(e)));
  };
  return (
    <main className="journal" data-testid="entry-view" data-entry-id={entry.id}>
      <div className="row spread">
        <button data-testid="entry-back" onClick={onClose}>
          ← All entries
        </button>
        <div className="row">
          <button data-testid="entry-edit" onClick={onEdit}>
            Edit
          </button>
          <button className="danger" data-testid="entry-delete" onClick={remove}>
            Delete
          </button>
        </div>
      </div>
      {conflicts.length > 0 && <Conflicts conflicts={conflicts} />}
      <article className="card entry">
        <time className="muted small" data-testid="entry-date">
          {entry.date || 'undated'}
        </time>
        <h2 data-testid="entry-view-title">{entry.title || 'Untitled'}</h2>
        <Tags tags={entry.tags} />
        <div className="text" data-testid="entry-text">
          {entry.text}
        </div>
        {entry.photos.length > 0 && (
          <div className="photos">
            {entry.photos.map((p) => (
              <button
                key={p.ref}
                className="photo"
                data-testid="photo"
                data-ref={p.ref}
                onClick={() => setOpen(p)}
                title={`${p.name} (${formatBytes(p.size)})`}
              >
                {p.thumb ? <img src={p.thumb} alt={p.name} /> : <span className="file">{p.name}</span>}
              </button>
            ))}
          </div>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </article>
      {open && <PhotoViewer photo={open} onClose={() => setOpen(undefined)} />}
    </main>
  );
}

/** The full-size photo, fetched (and decrypted) when opened; the thumbnail shows meanwhile. */
function PhotoViewer({ photo, onClose }: { photo: Photo; onClose: () => void }) {
  const vault = useVault();
  const [url, setUrl] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    let made = '';
    let live = true;
    fullSize(vault, photo).then(
      (blob) => {
        made = URL.createObjectURL(blob);
        if (live) setUrl(made);
        else URL.revokeObjectURL(made);
      },
      (e: unknown) => live && setError(describe(e)),
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [vault, photo]);
  const isImage = photo.type.startsWith('image/');
  return (
    <div className="overlay" role="dialog" aria-label={photo.name} data-testid="photo-viewer" onClick={onClose}>
      <div className="viewer" onClick={(e) => e.stopPropagation()}>
        <div className="row spread">
          <span className="small">
            {photo.name} · {formatBytes(photo.size)}
          </span>
          <div className="row">
            {url && (
              <a className="button small" href={url} download={photo.name} data-testid="photo-download">
                Download
              </a>
            )}
            <button className="small" data-testid="photo-close" onClick={onClose}>
              Close
            </button>
          </div>
        </div>
        {error ? (
          <p className="error" role="alert" data-testid="photo-error">
            {error}
          </p>
        ) : url && isImage ? (
          <img src={url} alt={photo.name} data-testid="photo-full" data-state="loaded" />
        ) : url ? (
          <p data-testid="photo-full" data-state="loaded">
            Ready to download.
          </p>
        ) : (
          <div className="loading-photo" data-testid="photo-loading">
            {photo.thumb && <img src={photo.thumb} alt="" className="blurred" />}
            <span className="muted">Fetching the full size…</span>
          </div>
        )}
      </div>
    </div>
  );
}

const FIELD_NAMES: Readonly<Record<string, string>> = { title: 'Title', text: 'Text', date: 'Date', tags: 'Tags', photos: 'Photos' };

function shown(v: JsonValue | undefined, deleted: boolean | undefined, field: string | null): string {
  if (deleted) return field === null ? 'deleted the entry' : 'removed it';
  if (field === null) return 'kept the entry';
  if (field === 'photos' && Array.isArray(v)) return `${v.length} photo${v.length === 1 ? '' : 's'}`;
  if (field === 'tags' && Array.isArray(v)) return v.map((t) => `#${typeof t === 'string' ? t : JSON.stringify(t)}`).join(' ') || 'no tags';
  if (typeof v === 'string') return v.length > 160 ? `${v.slice(0, 160)}…` : v || '(empty)';
  return JSON.stringify(v);
}

/** Concurrent edits of this entry: what every device shows now, what lost, and buttons to choose. */
function Conflicts({ conflicts }: { conflicts: Conflict[] }) {
  const vault = useVault();
  const devices = useDevices().data ?? [];
  const [error, setError] = useState('');
  const nameOf = (id: string) => {
    const d = devices.find((x) => x.deviceId === id);
    return d ? (d.current ? `${d.name} (this device)` : d.name) : id.slice(0, 8);
  };
  const pick = (c: Conflict, how: { keep: true } | { take: string }) => {
    setError('');
    vault.resolve(c.collection, c.id, c.field, how).catch((e: unknown) => setError(describe(e)));
  };
  return (
    <section className="card conflicts" data-testid="conflicts">
      <h3>Edited on two devices at once</h3>
      <p className="muted small">Every device shows the first choice below until you pick one; the choice syncs to all of them.</p>
      {conflicts.map((c) => (
        <div key={c.field ?? '(entry)'} className="conflict" data-testid="conflict" data-field={c.field ?? ''}>
          <h4>{c.field === null ? 'The entry itself' : (FIELD_NAMES[c.field] ?? c.field)}</h4>
          <div className="side">
            <div>
              <span className="muted small">{nameOf(c.winnerDevice)} · shown now</span>
              <p>{shown(c.winner, c.winnerDeleted, c.field)}</p>
            </div>
            <button data-testid="conflict-keep" onClick={() => pick(c, { keep: true })}>
              Keep this
            </button>
          </div>
          {c.losers.map((l) => (
            <div key={`${l.device}/${l.hlc}`} className="side">
              <div>
                <span className="muted small">{nameOf(l.device)}</span>
                <p>{shown(l.value, l.deleted, c.field)}</p>
              </div>
              <button data-testid="conflict-take" data-device={l.device} onClick={() => pick(c, { take: l.device })}>
                Use this
              </button>
            </div>
          ))}
        </div>
      ))}
      {error && (
        <p className="error" role="alert" data-testid="conflict-error">
          {error}
        </p>
      )}
    </section>
  );
}
