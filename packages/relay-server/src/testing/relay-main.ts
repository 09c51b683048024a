/**
 * @module testing/relay-main
 * A relay in its own process, for crash tests:
 * `node relay-main.js <dataDir> [port]` (embedded) or
 * `node relay-main.js --postgres URL --s3 URL [port]` (scale-out), with
 * the auth secret from `KITH_RELAY_SECRET` when set (processes sharing it
 * accept each other's tokens) and the push batch window from
 * `KITH_RELAY_PUSH_BATCH_MS` when set. Prints one JSON line `{ "url": ... }` on
 * stdout once listening; SIGTERM closes it gracefully.
 */
import { parseArgs } from 'node:util';
import { openScaleOut, relaySecretFrom, startRelay } from '../index.js';

const { values, positionals } = parseArgs({ options: { postgres: { type: 'string' }, s3: { type: 'string' } }, allowPositionals: true });
const scaleOut = values.postgres !== undefined && values.s3 !== undefined;
const [dataDir, port] = scaleOut ? [undefined, positionals[0]] : positionals;
if (!scaleOut && !dataDir) {
  process.stderr.write('usage: relay-main <dataDir> [port] | relay-main --postgres URL --s3 URL [port]\n');
  process.exit(2);
}
const authSecret = relaySecretFrom(undefined);
const backend = scaleOut ? await openScaleOut({ postgres: values.postgres!, s3: values.s3!, s3Options: { retry: { maxAttempts: 2 } } }) : { dataDir: dataDir! };
// For benchmarks: how long notices wait to share a frame (see RelayOptions.pushBatchMs).
const batchMs = process.env['KITH_RELAY_PUSH_BATCH_MS'];
const relay = await startRelay({
  ...backend,
  port: Number(port ?? 0),
  ...(authSecret ? { authSecret } : {}),
  ...(batchMs ? { pushBatchMs: Number(batchMs) } : {}),
});
process.stdout.write(`${JSON.stringify({ url: relay.url })}\n`);
process.once('SIGTERM', () => void relay.close().then(() => process.exit(0)));
