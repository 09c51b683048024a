#!/usr/bin/env node
// The API report of @kith/core: every name each entry of its package.json
// `exports` offers, with its kind, read from the built .d.ts files by the
// TypeScript compiler (the runtime module namespace is checked against it,
// so a declaration file can't claim a value the JavaScript lacks).
//   node scripts/api-report.mjs            rewrites packages/core/api/core.api.md
//   node scripts/api-report.mjs --stdout   prints the report (the test compares it)
// Build first (`npx tsc -b`); `npm run api` does both.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const core = join(root, 'packages/core');
export const reportPath = join(core, 'api/core.api.md');

/** The kind a reader needs: what they can call, construct, read or only name as a type. */
function kindOf(symbol) {
  const f = symbol.flags;
  const kinds = [];
  if (f & ts.SymbolFlags.Class) kinds.push('class');
  else if (f & ts.SymbolFlags.Function) kinds.push('function');
  else if (f & ts.SymbolFlags.Enum) kinds.push('enum');
  else if (f & ts.SymbolFlags.Variable) kinds.push('const');
  else if (f & ts.SymbolFlags.ValueModule) kinds.push('namespace');
  // A const and a type of one name (`ErrorCode`) is both; a class is its own type.
  if (!(f & (ts.SymbolFlags.Class | ts.SymbolFlags.Enum)) && f & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) kinds.push('type');
  return kinds.join(' + ');
}

function isValue(symbol) {
  return (symbol.flags & ts.SymbolFlags.Value) !== 0;
}

/** One entry per subpath of package.json `exports`, in its order: [name, d.ts, js]. */
function entries() {
  const pkg = JSON.parse(readFileSync(join(core, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports).map(([sub, target]) => [
    sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`,
    join(core, target.types),
    join(core, target.default),
  ]);
}

/** Sorts [name, ...] rows by name, in code-unit order (stable across locales). */
const byName = ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Types that the declarations of an entry's exports mention but the entry
 * does not export: a user meets them (a parameter, a field) and must import
 * them from another entry, or cannot name them at all. Listed so that each
 * such gap is visible in review: [name, mentioned by, entries exporting it].
 */
function unexported(checker, exports, exportedBy) {
  const own = new Set(exports.map(([, target]) => target));
  const found = new Map();
  for (const [name, target] of exports) {
    const visit = (node) => {
      // Private members are not part of the API (a .d.ts keeps only their names).
      if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return;
      const ref = ts.isTypeReferenceNode(node)
        ? node.typeName
        : ts.isExpressionWithTypeArguments(node)
          ? node.expression
          : ts.isTypeQueryNode(node)
            ? node.exprName
            : undefined;
      let sym = ref && checker.getSymbolAtLocation(ref);
      if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
      const file = sym?.declarations?.[0]?.getSourceFile().fileName ?? '';
      if (sym && !(sym.flags & ts.SymbolFlags.TypeParameter) && file.startsWith(core) && !own.has(sym)) {
        if (!found.has(sym)) found.set(sym, new Set());
        found.get(sym).add(name);
      }
      ts.forEachChild(node, visit);
    };
    for (const decl of target.declarations ?? []) visit(decl);
  }
  return [...found].map(([sym, by]) => [sym.name, [...by].sort(), exportedBy.get(sym) ?? []]).sort(byName);
}

/** Builds the report text (markdown), one section per entry. */
export async function apiReport() {
  const list = entries();
  const program = ts.createProgram(
    list.map(([, dts]) => dts),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    },
  );
  const checker = program.getTypeChecker();
  const sections = [];
  const exportedBy = new Map();
  for (const [name, dts, js] of list) {
    const file = program.getSourceFile(dts);
    if (!file) throw new Error(`api-report: ${dts} is missing (run \`npx tsc -b\` first)`);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    const rows = [];
    const values = new Set();
    const exports = [];
    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      exports.push([exported.name, target]);
      if (!exportedBy.has(target)) exportedBy.set(target, []);
      exportedBy.get(target).push(name);
      // `export type { Blobs }`: only the type is public, whatever the declaration is.
      const typeOnly = checker.getTypeOnlyAliasDeclaration(exported) !== undefined;
      rows.push([exported.name, typeOnly ? (isValue(target) ? `type (of a ${kindOf(target).split(' ')[0]})` : 'type') : kindOf(target)]);
      if (!typeOnly && isValue(target)) values.add(exported.name);
    }
    const runtime = new Set(Object.keys(await import(pathToFileURL(js).href)));
    const onlyTypes = [...values].filter((n) => !runtime.has(n));
    const onlyRuntime = [...runtime].filter((n) => !values.has(n));
    if (onlyTypes.length + onlyRuntime.length > 0) {
      throw new Error(
        `api-report: ${name}: .d.ts and module disagree (declared only: ${onlyTypes.join(', ') || '-'}; runtime only: ${onlyRuntime.join(', ') || '-'})`,
      );
    }
    sections.push({ name, rows: rows.sort(byName), values: values.size, exports });
  }
  const code = (n) => `\`${n}\``;
  const out = [
    '# @kith/core API report',
    '',
    '<!-- Generated by `npm run api` (scripts/api-report.mjs) from the built .d.ts files. Do not edit: a test fails when it differs from the build. -->',
    '',
    'Every name each entry exports, with its kind. A change here is a change to the public surface: say so in the changelog.',
  ];
  for (const { name, rows, values, exports } of sections) {
    out.push('', `## ${code(name)}`, '', `${rows.length} names, ${values} of them values.`, '', '| name | kind |', '| --- | --- |');
    for (const [n, k] of rows) out.push(`| ${code(n)} | ${k} |`);
    const gaps = unexported(checker, exports, exportedBy);
    if (gaps.length === 0) continue;
    out.push('', 'Mentioned by these exports, not exported here:', '');
    for (const [n, by, elsewhere] of gaps) {
      out.push(
        `- ${code(n)} in ${by.map(code).join(', ')}: ${elsewhere.length > 0 ? `exported by ${elsewhere.map(code).join(', ')}` : '**exported by no entry**'}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await apiReport();
  if (process.argv.includes('--stdout')) process.stdout.write(text);
  else {
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(reportPath, text);
    console.log(`wrote ${reportPath.slice(root.length)}`);
  }
}
