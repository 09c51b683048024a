/**
 * Memory and CPU of another process (the relay), read from /proc, so the
 * relay's figures are its own and not the load generator's. Linux only.
 * @module
 */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second: USER_HZ, 100 on every Linux x86-64 and arm64 build. */
const CLK_TCK = 100;

/** Peak (VmHWM) and current (VmRSS) resident set size of `pid`, in MiB. */
export function procMemMiB(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** CPU time `pid` has used so far (user + system), in milliseconds. */
export function procCpuMs(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its closing paren are fixed.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * Microseconds, since boot, in which some runnable task of this machine
 * waited for a CPU (Linux pressure stall information), or NaN where the
 * kernel does not report it. Its growth over a run says how much other
 * work competed for the cores.
 */
export function cpuStallUs(): number {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
