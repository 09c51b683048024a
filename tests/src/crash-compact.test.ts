/** kill -9 during `kith compact` on a folder remote and through a relay process (see crash-lifetime.test.support.ts). */
import { crashTests } from './crash-lifetime.test.support.js';

crashTests('compact', Number(process.env['KITH_CRASH_ROUNDS_COMPACT'] ?? 5));
