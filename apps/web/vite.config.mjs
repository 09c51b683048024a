// Vite builds the app into dist/; the plugin below writes dist/sw.js from
// sw/sw.js with the list of files the service worker keeps (every built
// file and everything in public/) and a version that changes with them.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const publicFiles = (dir = 'public', base = '') =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? publicFiles(`${dir}/${d.name}`, `${base}${d.name}/`) : [`${base}${d.name}`]));

function serviceWorker() {
  return {
    name: 'kith-service-worker',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const shell = [...new Set(['index.html', ...built, ...publicFiles()])].sort().map((f) => `/${f}`);
      const hash = createHash('sha256');
      for (const f of Object.keys(bundle).sort()) {
        const out = bundle[f];
        hash.update(f).update(out.type === 'chunk' ? out.code : typeof out.source === 'string' ? out.source : Buffer.from(out.source));
      }
      for (const f of publicFiles()) hash.update(f).update(readFileSync(`public/${f}`));
      const source = readFileSync('sw/sw.js', 'utf8')
        .replace("'__VERSION__'", JSON.stringify(hash.digest('hex').slice(0, 16)))
        .replace('const SHELL = __SHELL__;', `const SHELL = ${JSON.stringify(shell)};`);
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  plugins: [serviceWorker()],
});
