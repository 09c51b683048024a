/** The committed test vectors, shared by the format tests; named `*.test.*` so the package's tarball leaves it out. */
import { readFileSync } from 'node:fs';
import type { buildVectors, VECTOR_INPUTS } from '../testing/format-vectors.js';

export const committed = JSON.parse(readFileSync(new URL('../../src/format/vectors.json', import.meta.url), 'utf8')) as {
  inputs: typeof VECTOR_INPUTS;
  outputs: Awaited<ReturnType<typeof buildVectors>>;
  /** Bytes written by older versions (same inputs), which this build must still read. */
  legacy: { headV1: string };
};
