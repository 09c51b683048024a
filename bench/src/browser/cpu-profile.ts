/**
 * A DevTools CPU profile of one call into a benchmark page, for the browser
 * section's opt-in profile (KITH_BENCH_CPU_PROFILE=file): the raw profile is
 * written to the file (open it in DevTools' Performance panel), the summary
 * is self time per function.
 * @module
 */
import { writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

/** Self time of one function (by name and line in the page's bundle), or of `(idle)`, `(program)`, `(garbage collector)`. */
export interface CpuEntry {
  readonly name: string;
  readonly selfMs: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** Self time by function, largest first: each sample's interval goes to the function on top of the stack. */
export function selfTimes(profile: CpuProfile, top = 25): CpuEntry[] {
  const nameOf = new Map<number, string>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url === '' ? '' : ` ${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}`;
    nameOf.set(n.id, `${functionName === '' ? '(anonymous)' : functionName}${functionName.startsWith('(') ? '' : where}`);
  }
  const self = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i: sample i lasts until sample i + 1.
  for (let i = 0; i < samples.length; i++) {
    const name = nameOf.get(samples[i]!) ?? '?';
    self.set(name, (self.get(name) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  }
  return [...self.entries()]
    .map(([name, selfMs]) => ({ name, selfMs }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
}

/** Runs `fn` (a call into `page`) under the CPU profiler; writes the profile to `file` and returns fn's result and the self times. */
export async function cpuProfiled<T>(page: Page, file: string, fn: () => Promise<T>): Promise<[T, CpuEntry[]]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
    const out = await fn();
    const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    return [out, selfTimes(profile)];
  } finally {
    await cdp.detach();
  }
}
