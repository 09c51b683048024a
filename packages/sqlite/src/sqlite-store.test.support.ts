/** Shared by the sqlite store's tests; named `*.test.*` so the package's tarball leaves it out. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KithError } from '@kith/core/adapter';

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kith-sqlite-'));

/** Runs `fn` with a fresh temp dir and always removes it. */
export async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const storeFailed =
  (pattern: RegExp) =>
  (e: unknown): boolean =>
    KithError.is(e, ErrorCode.StoreFailed) && pattern.test(e.message) && (e.hint ?? '') !== '';
