// Import cycles, type-only ones included: ESLint's import-x/no-cycle skips
// `import type`, but two modules whose types need each other still cannot be
// understood (or layered) apart. Run by `npm run lint` (lint:cycles).
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle (type-only imports count): move the shared part to the lower module, see CONTRIBUTING.md',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // Type-only imports and re-exports are compiled away; they still count.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    // Other workspaces are reached through their built entry: not followed.
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    exclude: { path: ['(^|/)dist/', '(^|/)node_modules/'] },
    // Subpath entries (@kith/core/testing, …) resolve through package.json exports.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['types', 'import', 'default'] },
  },
};
