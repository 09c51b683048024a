/**
 * Writing an entry: title, date, tags, text, and photos added with the file
 * picker or by dropping files. A photo is uploaded (encrypted) as soon as it
 * is added, with its thumbnail made here; saving writes the entry.
 */
import { useState, type DragEvent, type FormEvent } from 'react';
import { useVault } from '@kith/react';
import { ENTRIES, fieldsOf, newEntryId, parseTags, today, type Entry, type Photo } from './entries.js';
import { uploadPhoto } from './photos.js';
import { describe } from './session.js';

export function EntryEditor({ entry, onDone }: { entry: Entry | undefined; onDone: (id?: string) => void }) {
  const vault = useVault();
  const [id] = useState(() => entry?.id ?? newEntryId());
  const [title, setTitle] = useState(entry?.title ?? '');
  const [date, setDate] = useState(entry?.date || today());
  const [tags, setTags] = useState(entry?.tags.join(', ') ?? '');
  const [text, setText] = useState(entry?.text ?? '');
  const [photos, setPhotos] = useState<readonly Photo[]>(entry?.photos ?? []);
  const [uploading, setUploading] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState('');

  const add = (files: Iterable<File>) => {
    for (const file of files) {
      setUploading((n) => n + 1);
      uploadPhoto(vault, file)
        .then(
          (p) => setPhotos((ps) => [...ps, p]),
          (e: unknown) => setError(`${file.name}: ${describe(e)}`),
        )
        .finally(() => setUploading((n) => n - 1));
    }
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    add(e.dataTransfer.files);
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError('');
    const fields = fieldsOf({ title: title.trim(), text, date, tags: parseTags(tags), photos });
    // Editing writes only the fields that changed, so an edit here and one elsewhere to another field both stand.
    const diff = entry ? changed(entry, fields) : fields;
    if (entry && Object.keys(diff).length === 0) return onDone(id);
    const write = entry ? vault.patch(ENTRIES, id, diff) : vault.put(ENTRIES, id, fields);
    write.then(
      () => onDone(id),
      (err: unknown) => {
        setSaving(false);
        setError(describe(err));
      },
    );
  };
  return (
    <main className="journal">
      <form className="card editor" data-testid="entry-editor" onSubmit={save}>
        <h2>{entry ? 'Edit entry' : 'New entry'}</h2>
        <label>
          Title
          <input data-testid="editor-title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="A day to remember" />
        </label>
        <div className="row wrap">
          <label>
            Date
            <input type="date" data-testid="editor-date" value={date} onChange={(e) => setDate(e.target.value)} />
          </label>
          <label className="grow">
            Tags
            <input data-testid="editor-tags" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="travel, family" />
          </label>
        </div>
        <label>
          Text
          <textarea data-testid="editor-text" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <div
          className={dragging ? 'dropzone over' : 'dropzone'}
          data-testid="photo-drop"
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={drop}
        >
          <div className="photos">
            {photos.map((p) => (
              <figure key={p.ref} className="photo" data-testid="editor-photo">
                {p.thumb ? <img src={p.thumb} alt={p.name} /> : <span className="file">{p.name}</span>}
                <button type="button" className="remove" aria-label={`Remove ${p.name}`} onClick={() => setPhotos((ps) => ps.filter((x) => x.ref !== p.ref))}>
                  ×
                </button>
              </figure>
            ))}
          </div>
          <label className="button">
            Add photos
            <input
              type="file"
              accept="image/*"
              multiple
              hidden
              data-testid="photo-input"
              onChange={(e) => {
                if (e.target.files) add([...e.target.files]);
                e.target.value = '';
              }}
            />
          </label>
          <span className="muted small">or drop them here</span>
          {uploading > 0 && (
            <span className="muted small" data-testid="photo-uploading">
              Encrypting and uploading {uploading}…
            </span>
          )}
        </div>
        {error && (
          <p className="error" role="alert" data-testid="editor-error">
            {error}
          </p>
        )}
        <div className="row">
          <button className="primary" type="submit" data-testid="editor-save" disabled={saving || uploading > 0}>
            Save
          </button>
          <button type="button" data-testid="editor-cancel" onClick={() => onDone(entry?.id)}>
            Cancel
          </button>
        </div>
      </form>
    </main>
  );
}

/** The fields of `next` that differ from `entry` (compared as JSON). */
function changed(entry: Entry, next: ReturnType<typeof fieldsOf>): ReturnType<typeof fieldsOf> {
  const before = fieldsOf(entry);
  return Object.fromEntries(Object.entries(next).filter(([k, v]) => JSON.stringify(before[k]) !== JSON.stringify(v)));
}
