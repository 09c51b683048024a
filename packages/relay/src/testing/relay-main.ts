/**
 * @module testing/relay-main
 * A relay in its own process, for crash tests: `node relay-main.js <dataDir> [port]`.
 * Prints one JSON line `{ "url": ... }` on stdout once listening; SIGTERM
 * closes it gracefully.
 */
import { startRelay } from '../server/index.js';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: relay-main <dataDir> [port]\n');
  process.exit(2);
}
const relay = await startRelay({ dataDir, port: Number(port ?? 0) });
process.stdout.write(`${JSON.stringify({ url: relay.url })}\n`);
process.once('SIGTERM', () => void relay.close().then(() => process.exit(0)));
