/**
 * @module commands/sync
 * push, pull, sync (once or --watch), status.
 */
import { watch as watchFiles, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { policyActs, type PrefetchResult, type SyncResult, type Vault } from '@kith/core';
import type { Command } from 'commander';
import { homeDir, openVault, withVault } from '../home.js';
import { Output, type GlobalOptions } from '../output.js';
import { showSyncProgress } from '../progress.js';
import { contextOf, positiveNumber, staleAfterMs, staleAfterOption } from './shared.js';
import { describeError, errorJson, stdoutClosed } from '../output.js';
import { describePrefetch } from './blobs.js';
import { deliveryJson, deliveryLines, withDelivery } from './delivery.js';

const summary = (r: SyncResult): string => `pushed ${r.pushed}, pulled ${r.pulled}, conflicts ${r.conflicts}`;

/** After a sync, this device's blob policy (`kith blob policy`) when it does anything: prefetch, then trim the cache. */
async function applyBlobPolicy(v: Vault): Promise<PrefetchResult | undefined> {
  return policyActs(await v.blobs.policy()) ? v.blobs.prefetch() : undefined;
}

/**
 * Applies the blob policy after each sync round of `--watch`, one run at a
 * time (a round that ends during a run asks for one more), printing a line
 * when it changed the cache.
 */
function prefetchAfterRounds(vault: Vault, json: boolean, onError: (e: Error) => void): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    again = false;
    void applyBlobPolicy(vault)
      .then((p) => {
        if (!p || p.fetched + p.evicted + p.unavailable === 0) return;
        process.stdout.write(json ? JSON.stringify({ blobs: p }) + '\n' : `${new Date().toISOString()} blobs: ${describePrefetch(p)}\n`);
      })
      .catch(onError)
      .finally(() => {
        running = false;
        if (again) run();
      });
  };
  return () => (running ? void (again = true) : run());
}

function syncCommand(program: Command, name: 'push' | 'pull', description: string): void {
  const command = program.command(name).description(description);
  if (name === 'pull') staleAfterOption(command);
  command.action(async (o: { staleAfter?: number }, cmd: Command) => {
    const { opts, out } = contextOf(cmd);
    const r = await withVault(
      opts,
      async (v) => {
        const stop = showSyncProgress(v, out.json);
        try {
          return await v[name]();
        } finally {
          stop();
        }
      },
      o.staleAfter === undefined ? {} : staleAfterMs({ staleAfter: o.staleAfter }),
    );
    out.warnings(r.warnings);
    out.result(r, () => summary(r));
  });
}

/**
 * Syncs as soon as other `kith` processes write in this home: their commits
 * touch the store's files (`kith.db`, its WAL, and `spaces/<spaceId>.db`
 * for a shared space), which the auto-sync loop of this process cannot see
 * as its own local changes.
 */
function syncOnStoreChange(vault: Vault, dir: string, onError: (e: Error) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let personal = false;
  const spaces = new Set<string>();
  const check = (): void => {
    timer = undefined;
    const changed = [...spaces];
    const mine = personal;
    spaces.clear();
    personal = false;
    void (async () => {
      // Our own pulls touch the same files but leave nothing pending: only writes waiting to be pushed make a sync.
      let due = mine && (await vault.status()).pending > 0;
      for (const id of changed)
        due ||=
          (await vault
            .space(id)
            .pending()
            .catch(() => 0)) > 0;
      if (due) await vault.sync();
    })().catch(onError);
  };
  const changed = (): void => void (timer ??= setTimeout(check, 100)); // debounced: one commit touches the WAL several times
  let spaceWatcher: FSWatcher | undefined;
  const watchSpaces = (): void => {
    if (spaceWatcher) return;
    try {
      spaceWatcher = watchFiles(join(dir, 'spaces'), (_event, file) => {
        const id = SPACE_STORE_RE.exec(file ?? '')?.[1];
        if (id) {
          spaces.add(id);
          changed();
        }
      });
    } catch {
      // No space kept here yet: watched once the folder appears.
    }
  };
  watchSpaces();
  const watcher = watchFiles(dir, (_event, file) => {
    if (file === 'spaces') watchSpaces();
    if (file?.startsWith('kith.db')) {
      personal = true;
      changed();
    }
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
    spaceWatcher?.close();
  };
}

/** A shared space's store in the home (`spaces/<spaceId>.db`, its WAL and journal). */
const SPACE_STORE_RE = /^([0-9a-f]{32})\.db/;

/** Runs auto-sync until SIGINT/SIGTERM, printing one line per round. */
async function watch(vault: Vault, opts: GlobalOptions, intervalSeconds: number, json: boolean): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    stdoutClosed.addEventListener('abort', () => resolve(), { once: true });
  });
  const report = (error: Error): void =>
    void process.stderr.write(json ? JSON.stringify({ ...errorJson(error), retrying: true }) + '\n' : describeError(error, false).line + ' (will retry)\n');
  const prefetch = prefetchAfterRounds(vault, json, report);
  const offSynced = vault.on('synced', (r) => {
    new Output(opts).warnings(r.warnings);
    // A round's result is the command's output, in text as in JSON: stdout.
    process.stdout.write(json ? JSON.stringify(r) + '\n' : `${new Date().toISOString()} ${summary(r)}\n`);
    prefetch();
  });
  const offError = vault.on('error', ({ error }) => report(error));
  const auto = vault.startAutoSync({ intervalMs: intervalSeconds * 1000 });
  const offStore = syncOnStoreChange(vault, homeDir(opts), report);
  await stopped;
  offStore();
  await auto.stop();
  offSynced();
  offError();
}

/** Adds `push`, `pull`, `sync` and `status` to the program. */
export function registerSync(program: Command): void {
  syncCommand(program, 'push', 'send local changes to the remote');
  syncCommand(program, 'pull', 'fetch and apply changes from other devices');

  const sync = program
    .command('sync')
    .description('pull, then push; --watch keeps syncing until stopped')
    .option('--watch', 'keep syncing (Ctrl-C to stop)')
    .option('--interval <seconds>', 'seconds between rounds with --watch', positiveNumber('--interval'), 10);
  staleAfterOption(sync).action(async (o: { watch?: boolean; interval: number; staleAfter: number }, cmd: Command) => {
    const { opts, out } = contextOf(cmd);
    if (o.watch) {
      const vault = await openVault(opts, staleAfterMs(o));
      try {
        await watch(vault, opts, o.interval, out.json);
      } finally {
        await vault.close();
      }
      return;
    }
    const r = await withVault(
      opts,
      async (v) => {
        const stop = showSyncProgress(v, out.json);
        let synced: SyncResult;
        try {
          synced = await v.sync();
        } finally {
          stop();
        }
        // The sync is done and durable either way: a failed prefetch is a warning, retried by the next sync.
        const blobs = await applyBlobPolicy(v).catch(
          (e: unknown) => void process.stderr.write(`${describeError(e, false).line} (blob prefetch; the sync itself succeeded)\n`),
        );
        // `warnings` always, so a script need not test for it.
        const withWarnings = { ...synced, warnings: synced.warnings ?? [] };
        return blobs ? { ...withWarnings, blobs } : withWarnings;
      },
      staleAfterMs(o),
    );
    out.warnings(r.warnings);
    out.result(r, () => summary(r) + ('blobs' in r ? `\nblobs: ${describePrefetch(r.blobs)}` : ''));
  });

  program
    .command('status')
    .description('this device, its vault and remote, pending changes, last sync, conflicts, how far other devices have your changes')
    .option('--delivery', 'with --json: add "delivery", how far each other active device has your changes')
    .action(async (o: { delivery?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const { s, delivery } = await withVault(opts, async (v) => ({ s: await v.status(), delivery: await v.delivery() }));
      // `devices` lists every device (revoked ones too, for staleness) with the contract's delivery fields;
      // `--delivery` adds the active other devices alone as `delivery`.
      const status = { ...s, devices: withDelivery(s.devices, delivery) };
      out.result(o.delivery ? { ...status, delivery: deliveryJson(delivery) } : status, () =>
        [
          `vault     ${s.vaultId}`,
          `device    ${s.deviceId} (${s.deviceName})`,
          `remote    ${s.remote}`,
          `pending   ${s.pending} change(s) to push`,
          `last push ${s.lastPush ?? 'never'}`,
          `last pull ${s.lastPull ?? 'never'}`,
          `conflicts ${s.conflicts}`,
          `caught up ${s.caughtUp ? 'yes' : 'not yet'}`,
          'devices   (last head: when each last synced, as far as this device knows)',
          ...s.devices.map(
            (d) => `  ${d.deviceId} ${d.name}${d.current ? ' (this device)' : ''}${d.revoked ? ' [revoked]' : ''}  last head ${d.lastHeadAt ?? 'never seen'}`,
          ),
          ...deliveryLines(delivery),
        ].join('\n'),
      );
    });
}
