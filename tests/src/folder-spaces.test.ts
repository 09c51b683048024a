/**
 * The space scenarios (membership races between two admins, invites,
 * tampered entries) through the folder remote: two clients over one
 * directory, each put-if-absent a real exclusive create.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSpaceScenarios } from '@kith/core/testing';
import { openFolderRemote } from '@kith/folder';

runSpaceScenarios('folder remote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-'));
  return {
    openRemote: () => openFolderRemote(join(dir, 'remote'), { create: true }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
