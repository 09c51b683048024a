/**
 * Runs s3rver in this process (started as its own child process by
 * s3rver-process.ts) and prints `{"port":N}` once it listens. It owns
 * DIR and removes it when it stops.
 * Usage: node --openssl-legacy-provider s3rver-runner.js DIR
 */
import { rmSync } from 'node:fs';
import S3rver from 's3rver';
// Before the server starts: its PUTs then answer once the bytes are in place (see the module).
import './s3rver-atomic-put.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: s3rver-runner.js DIR');
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
const { port } = (await server.run()) as { port: number };
process.stdout.write(JSON.stringify({ port }) + '\n');
const shutdown = (): void => {
  void server.close().then(() => {
    rmSync(dir, { recursive: true, force: true }); // ours alone: an orphan must not leave it behind
    process.exit(0);
  });
};
process.on('SIGTERM', shutdown);
// The parent holds our stdin open; when it goes (even by SIGKILL), so do we.
process.stdin.on('end', shutdown).resume();
