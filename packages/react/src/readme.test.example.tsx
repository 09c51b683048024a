import { useMemo } from 'react';
import type { Vault } from '@kith/core';
import { KithProvider, useQuery, useSyncStatus, useVault } from '@kith/react';
import { z } from 'zod';

const Note = z.object({ title: z.string().min(1), done: z.boolean().default(false) });

function Notes() {
  const vault = useVault();
  const notes = useMemo(() => vault.collection('notes', Note), [vault]);
  const { data, loading, error } = useQuery(notes, { where: { done: false }, order: 'title' });
  const status = useSyncStatus().data;
  if (loading) return <p>Loading…</p>;
  return (
    <>
      {error && <p role="alert">{error.message}</p>}
      <ul>
        {data?.map((n) => (
          <li key={n.id} onClick={() => void notes.patch(n.id, { done: true })}>
            {n.title}
          </li>
        ))}
      </ul>
      <button onClick={() => void notes.put(crypto.randomUUID(), { title: 'New note' })}>Add</button>
      <footer>{status && (status.offline ? 'offline' : status.pending > 0 ? `${status.pending} to sync` : 'synced')}</footer>
    </>
  );
}

export function App({ vault }: { vault: Vault }) {
  return (
    <KithProvider vault={vault}>
      <Notes />
    </KithProvider>
  );
}
