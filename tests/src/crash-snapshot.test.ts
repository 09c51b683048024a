/** kill -9 during `kith snapshot` on a folder remote and through a relay process (see crash-lifetime.test.support.ts). */
import { crashTests } from './crash-lifetime.test.support.js';

crashTests('snapshot', Number(process.env['KITH_CRASH_ROUNDS_SNAPSHOT'] ?? 6));
