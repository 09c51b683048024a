/**
 * @module web-app
 * Where `kith relay serve` finds the web app it serves by default: the
 * built `@kith/web` (apps/web/dist) when this CLI runs from the Kith
 * workspace, where npm links the app's package. An installed CLI has no
 * app beside it; it then serves none unless given `--app DIR`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The folder of the built `@kith/web`, or undefined when it cannot be found or was not built. */
export function builtWebApp(): string | undefined {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve('@kith/web/package.json');
  } catch {
    return undefined;
  }
  const dist = join(dirname(manifest), 'dist');
  return existsSync(join(dist, 'index.html')) ? dist : undefined;
}
