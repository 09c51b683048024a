#!/usr/bin/env node
// Starts from the bundle `npm run build` makes (dist/bundle: a few files to
// load instead of ~110 modules, most of a command's start). Falls back to
// the compiled modules when the bundle is missing or older than a later
// `tsc -b` of a package it holds, so a build that skipped bundling never
// runs stale code.
import { statSync } from 'node:fs';

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundle = mtime('../dist/bundle/main.js');
const fresh =
  bundle !== undefined && ['cli', 'core', 'sqlite', 'folder', 'relay', 's3'].every((p) => (mtime(`../../${p}/tsconfig.tsbuildinfo`) ?? 0) <= bundle);
const { main } = await import(fresh ? '../dist/bundle/main.js' : '../dist/main.js');
await main(process.argv.slice(2));
