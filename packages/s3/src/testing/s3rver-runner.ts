/**
 * Runs s3rver in this process (started as its own child process by
 * s3rver-process.ts) and prints `{"port":N}` once it listens.
 * Usage: node --openssl-legacy-provider s3rver-runner.js DIR
 */
import S3rver from 's3rver';

const dir = process.argv[2];
if (!dir) throw new Error('usage: s3rver-runner.js DIR');
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
const { port } = (await server.run()) as { port: number };
process.stdout.write(JSON.stringify({ port }) + '\n');
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
