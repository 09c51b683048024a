/**
 * Photos: the original file goes to the vault as a blob (encrypted,
 * chunked, uploaded), a thumbnail is made in the page, and the full size is
 * fetched only when a photo is opened (through the browser blob cache, so
 * a second look needs no network).
 */
import type { Vault } from '@kith/core';
import type { Photo } from './entries.js';

/** Longest side of a thumbnail, in CSS pixels at 2x. */
const THUMB_PX = 240;

/** A small JPEG data URL of an image file, or '' when the browser cannot decode it. */
export async function thumbnailOf(file: Blob): Promise<string> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return '';
  }
  try {
    const scale = Math.min(1, THUMB_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const g = canvas.getContext('2d');
    if (!g) return '';
    // JPEG has no transparency: a transparent PNG's clear pixels would turn black, so they go on white.
    g.fillStyle = '#fff';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/jpeg', 0.72);
  } finally {
    bitmap.close();
  }
}

/** Uploads `file` as a blob of the vault and returns the photo to keep in an entry. */
export async function uploadPhoto(vault: Vault, file: File): Promise<Photo> {
  const [thumb, bytes] = await Promise.all([thumbnailOf(file), file.arrayBuffer()]);
  const type = file.type || 'application/octet-stream';
  const put = await vault.blobs.put(new Uint8Array(bytes), { name: file.name, type });
  return { ref: put.ref, name: file.name, type, size: put.size, thumb };
}

/** The full-size photo as a Blob (fetched once, then from the blob cache). */
export async function fullSize(vault: Vault, photo: Photo): Promise<Blob> {
  const reader = vault.blobs.get(photo.ref).getReader();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(new Uint8Array(value));
  }
  return new Blob(parts, { type: photo.type || 'application/octet-stream' });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
