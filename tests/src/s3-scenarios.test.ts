/**
 * The shared sync scenarios through a real S3 server process (s3rver),
 * directly and through a proxy that injects network faults, with the real
 * SQLite store on every device.
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheckScenarios, runSyncScenarios, type ScenarioHarness } from '@kith/core/testing';
import { openS3Remote } from '@kith/s3';
import { randomFaults, startFaultProxy, startS3rver, type FaultProxy, type S3rverProcess } from '@kith/s3/testing';
import { openSqliteStore } from '@kith/sqlite';

let server: Promise<{ s3: S3rverProcess; proxy: FaultProxy }> | undefined;
const started = () =>
  (server ??= (async () => {
    const s3 = await startS3rver();
    return { s3, proxy: await startFaultProxy(s3.endpoint) };
  })());
after(async () => {
  if (!server) return;
  const { s3, proxy } = await server;
  await proxy.stop();
  await s3.stop();
});

function harness(faulty: boolean): () => Promise<ScenarioHarness> {
  return async () => {
    const { s3, proxy } = await started();
    const bucket = await s3.bucket();
    const dir = mkdtempSync(join(tmpdir(), 'kith-s3-scn-'));
    let stores = 0;
    proxy.setFaults(faulty ? randomFaults(stores + bucket.length * 7919, 0.08) : undefined);
    return {
      openRemote: (location = 'main') =>
        openS3Remote(s3.url(bucket, location, faulty ? proxy.url : s3.endpoint), faulty ? { retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 12 } } : {}),
      openStore: () => openSqliteStore(join(dir, `device-${++stores}`, 'kith.db')),
      cleanup: async () => {
        proxy.setFaults(undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

runSyncScenarios('s3 (s3rver) + SQLite store', harness(false), { remoteUrl: 's3://scenario/main' });
runCheckScenarios('s3 (s3rver) + SQLite store', harness(false), { remoteUrl: 's3://scenario/main' });
runSyncScenarios('s3 through a faulty network + SQLite store', harness(true), { remoteUrl: 's3://scenario/main', exactRequestCounts: false });
