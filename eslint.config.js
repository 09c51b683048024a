// Lint: typescript-eslint with type information, so floating promises and
// misused promises are caught; core may import nothing Node-only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const nodeOnlyMessage = '@kith/core must run in a browser: no Node-only imports';
// @kith/core's folders are its layers, lowest first; a folder may import its
// own layer and the ones below it, never one above (CONTRIBUTING.md).
const coreLayers = ['base', 'crypto', 'model', 'format', 'ports', 'identity', 'spaces', 'sync', 'blobs', 'snapshot', 'check', 'vault'];
const nodeOnly = ['fs', 'fs/promises', 'path', 'os', 'crypto', 'child_process', 'zlib', 'stream', 'http', 'https', 'net', 'url', 'better-sqlite3'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'scripts/**', '**/bin/**', 'eslint.config.js', 'apps/web/public/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner tracks itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    // Plain JavaScript (examples) is checked without type information.
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false }, globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    // No import cycles anywhere. This rule skips `import type`; a cycle of
    // types is still two modules that cannot be understood apart, so
    // dependency-cruiser checks those (npm run lint:cycles).
    files: ['packages/*/src/**/*.ts', 'tests/src/**/*.ts', 'bench/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['packages/*/tsconfig.json', 'tests/tsconfig.json', 'bench/tsconfig.json'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  ...coreLayers.map((layer, i) => ({
    files: [`packages/core/src/${layer}/**/*.ts`],
    // Tests and their support modules (`*.test.support.ts`, left out of the tarball too) run under Node only.
    ignores: ['packages/core/src/**/*.test.ts', 'packages/core/src/**/*.test.support.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeOnly.map((name) => ({ name, message: nodeOnlyMessage })),
          patterns: [
            { group: ['node:*'], message: nodeOnlyMessage },
            ...coreLayers
              .slice(i + 1)
              .map((upper) => ({ group: [`**/${upper}/*`], message: `core layer ${layer}/ may not import ${upper}/ (an upper layer): see CONTRIBUTING.md` })),
            {
              group: ['**/testing/*', '../index.js', '../../index.js', '../adapter.js', '../relay.js'],
              message: `core layer ${layer}/ may not import testing/ or a package entry`,
            },
          ],
        },
      ],
    },
  })),
  {
    // The package entries may import any layer, but nothing Node-only.
    files: ['packages/core/src/index.ts', 'packages/core/src/adapter.ts', 'packages/core/src/relay.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: nodeOnly.map((name) => ({ name, message: nodeOnlyMessage })), patterns: [{ group: ['node:*'], message: nodeOnlyMessage }] },
      ],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@kith/core/src/*', '@kith/core/dist/*', '../../core/*', '../core/*'], message: 'import @kith/core by its public entry only' }],
        },
      ],
    },
  },
  {
    // The relay client runs in browsers too: what the server and Node have stays out (`ws` loads only where no WebSocket is global).
    files: ['packages/relay/src/**/*.ts'],
    ignores: ['packages/relay/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeOnly, 'fastify', '@fastify/websocket', 'pg', '@kith/s3', '@kith/sqlite', '@kith/relay-server'].map((name) => ({
            name,
            message: '@kith/relay is the isomorphic client: no Node-only or server imports',
          })),
          patterns: [
            { group: ['node:*', '@kith/core/src/*', '@kith/core/dist/*'], message: '@kith/relay is the isomorphic client: no Node-only or server imports' },
          ],
        },
      ],
    },
  },
);
