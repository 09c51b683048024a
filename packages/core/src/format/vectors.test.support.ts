/** The committed test vectors, shared by the format tests; named `*.test.*` so the package's tarball leaves it out. */
import { readFileSync } from 'node:fs';
import type { buildVectors, VECTOR_INPUTS } from '../testing/format-vectors.js';

export const committed = JSON.parse(readFileSync(new URL('../../src/format/vectors.json', import.meta.url), 'utf8')) as {
  inputs: typeof VECTOR_INPUTS;
  outputs: Awaited<ReturnType<typeof buildVectors>>;
  /** Bytes written by older versions (same inputs), which this build must still read. */
  legacy: { headV1: string };
};

/**
 * The `name = value` lines of the code blocks of docs/FORMAT.md between the
 * headings `from` and `to` (a line indented by four spaces continues the
 * value before it), for tests that check the document quotes the vectors.
 */
export function quotedVectors(from: string, to?: string): Map<string, string> {
  const md = readFileSync(new URL('../../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf(from), to === undefined ? undefined : md.indexOf(to));
  const quoted = new Map<string, string>();
  let last = '';
  for (const block of section.matchAll(/^```\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const entry = /^([\w.]+(?:\[\d+\])?)(?: \([^)]*\))? = (.*)$/.exec(line);
      if (entry) quoted.set((last = entry[1]!), entry[2]!);
      else if (line.startsWith('    ')) quoted.set(last, quoted.get(last)! + line.slice(4));
    }
  }
  return quoted;
}
