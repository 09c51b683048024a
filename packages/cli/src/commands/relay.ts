/**
 * @module commands/relay
 * `kith relay serve`: run a relay until SIGINT/SIGTERM, then shut down
 * without losing a write. Embedded (objects and metadata in SQLite under
 * --data) or scale-out (--postgres and --s3: any number of such processes
 * share PostgreSQL and a bucket, and the auth secret).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCode, KithError } from '@kith/core';
import type { Command } from 'commander';
import { contextOf, portNumber } from './shared.js';
import { builtWebApp } from '../web-app.js';

interface ServeOptions {
  port: number;
  host: string;
  data: string;
  postgres?: string;
  s3?: string;
  inviteToken?: string;
  authSecretFile?: string;
  allowOrigin: string[];
  app?: string | false;
}

/** Adds `relay serve` to the program. */
export function registerRelay(program: Command): void {
  program
    .command('relay')
    .description('the Kith relay server')
    .command('serve')
    .description('serve vaults over HTTP with real-time push (remote URL: http://HOST:PORT/NAME)')
    .option('--port <port>', 'port to listen on (0: any free port; the URL printed names it)', portNumber('--port'), 8787)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data <dir>', 'embedded mode: where the relay keeps its data', join(homedir(), '.kith-relay'))
    .option('--postgres <url>', 'scale-out mode: metadata in PostgreSQL (postgres://USER@HOST:PORT/DB; password from PGPASSWORD or ~/.pgpass)')
    .option('--s3 <url>', 'scale-out mode: objects in S3 (s3://BUCKET/PREFIX?endpoint=...&region=..., credentials from the AWS environment)')
    .option('--invite-token <token>', 'creating a vault needs this token (clients set KITH_RELAY_INVITE_TOKEN)')
    .option(
      '--auth-secret-file <file>',
      'the auth secret (≥ 32 bytes) every process of a deployment shares; default: KITH_RELAY_SECRET, else random per process',
    )
    .option(
      '--allow-origin <origin>',
      "a web app at this origin (scheme://host[:port]) may use the relay from its pages; repeatable (the relay's own origin always may)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--app <dir>', 'serve this built web app at / (default: the built @kith/web of this workspace, when there is one)')
    .option('--no-app', 'serve no web app')
    .action(async (o: ServeOptions, cmd: Command) => {
      const { out } = contextOf(cmd);
      // Before anything opens: a relay that no fetch can reach is a mistake, not a deployment.
      (await import('@kith/relay')).assertFetchablePort(o.port, ErrorCode.Usage, 'a relay');
      const scaleOut = o.postgres !== undefined || o.s3 !== undefined;
      if (scaleOut && (o.postgres === undefined || o.s3 === undefined)) {
        throw new KithError(ErrorCode.Usage, 'scale-out mode needs both --postgres and --s3', { hint: 'or neither, for the embedded relay under --data' });
      }
      if (scaleOut && cmd.getOptionValueSource('data') === 'cli') {
        throw new KithError(ErrorCode.Usage, '--data is for the embedded relay; scale-out keeps everything in --postgres and --s3');
      }
      const server = await import('@kith/relay-server');
      const authSecret = server.relaySecretFrom(o.authSecretFile);
      if (scaleOut && !authSecret) {
        // Without one, a challenge issued by one process cannot be answered at another.
        throw new KithError(ErrorCode.Usage, 'scale-out relay processes must share an auth secret', {
          hint: 'set KITH_RELAY_SECRET or --auth-secret-file (make one with `openssl rand -hex 32`), the same for every process',
        });
      }
      const app = o.app === false ? undefined : o.app !== undefined ? resolve(o.app) : builtWebApp();
      if (app !== undefined && !existsSync(join(app, 'index.html'))) {
        throw new KithError(ErrorCode.Usage, `no web app to serve in ${app}`, { hint: 'give the folder of a built app (it holds index.html), or --no-app' });
      }
      const logger = server.jsonLineLogger(process.stderr);
      const backend = scaleOut ? await server.openScaleOut({ postgres: o.postgres!, s3: o.s3!, logger }) : { dataDir: resolve(o.data) };
      const relay = await server.startRelay({
        ...backend,
        port: o.port,
        host: o.host,
        logger,
        ...(authSecret ? { authSecret } : {}),
        ...(o.inviteToken !== undefined ? { inviteToken: o.inviteToken } : {}),
        allowOrigins: o.allowOrigin,
        ...(app !== undefined ? { staticDir: app } : {}),
      });
      if (out.json) out.line({ url: relay.url, app: app ?? null });
      else
        process.stdout.write(
          `Kith relay (${scaleOut ? 'scale-out' : 'embedded'}) listening on ${relay.url}\nUse it with: kith init --remote ${relay.url}/my-vault\n` +
            (app !== undefined ? `The web app (${app}) opens at ${relay.url}/\n` : 'No web app served (build one with `npm run build`, or give --app DIR)\n'),
        );
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await relay.close();
    });
}
