/**
 * @module commands/relay
 * `kith relay serve`: run a relay (objects and metadata in SQLite under
 * --data) until SIGINT/SIGTERM, then shut down without losing a write.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { contextOf, positiveInt } from './shared.js';

/** Adds `relay serve` to the program. */
export function registerRelay(program: Command): void {
  program
    .command('relay')
    .description('the Kith relay server')
    .command('serve')
    .description('serve vaults over HTTP with real-time push (remote URL: http://HOST:PORT/NAME)')
    .option('--port <port>', 'port to listen on', positiveInt('--port'), 8787)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data <dir>', 'where the relay keeps its data', join(homedir(), '.kith-relay'))
    .action(async (o: { port: number; host: string; data: string }, cmd: Command) => {
      const { out } = contextOf(cmd);
      const { startRelay, jsonLineLogger } = await import('@kith/relay/server');
      const relay = await startRelay({ dataDir: resolve(o.data), port: o.port, host: o.host, logger: jsonLineLogger(process.stderr) });
      if (out.json) out.line({ url: relay.url });
      else process.stdout.write(`Kith relay listening on ${relay.url}\nUse it with: kith init --remote ${relay.url}/my-vault\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await relay.close();
    });
}
