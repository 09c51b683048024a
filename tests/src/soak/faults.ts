/**
 * @module soak/faults
 * Fault injectors that are not processes or proxies: a remote that lies to
 * one library device, a full disk (a small tmpfs filled to the last byte),
 * and a device clock that jumps.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Remote } from '@kith/core';
import {
  canGetMany,
  canWatch,
  lendDeviceKey,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type RemoteCallOptions,
  type RemoteDeviceKey,
  type RemoteObjectInfo,
} from '@kith/core/adapter';
import { LIES } from './plan.js';
import { Rng } from './prng.js';

export type Lie = (typeof LIES)[number];

/**
 * A remote that lies to the one device using it while a lie is set:
 * `rollback` serves an older version of an object the device read before,
 * `withhold` hides about half of what the device asks for (reads say
 * missing, listings skip them), `duplicate` lists entries twice and sends
 * writes twice, `reorder` shuffles listings. Everything else passes
 * through. The device must refuse with a clear error or carry on, and
 * lose nothing once the remote tells the truth again.
 */
export class LyingRemote implements Remote {
  readonly #inner: Remote;
  /** Versions of each object this device was served, oldest first (two at most). */
  readonly #seen = new Map<string, Uint8Array[]>();
  #lie: { kind: Lie; rng: Rng } | undefined;
  /** Lies told, for the results. */
  told = 0;

  constructor(inner: Remote) {
    this.#inner = inner;
  }

  get url(): string {
    return this.#inner.url;
  }
  get capabilities() {
    return this.#inner.capabilities;
  }

  /** Starts lying (`undefined`: tells the truth again); `seed` draws what to hide or shuffle. */
  setLie(kind: Lie | undefined, seed = 1): void {
    this.#lie = kind ? { kind, rng: new Rng(seed) } : undefined;
  }

  async put(key: string, bytes: Uint8Array, o?: PutOptions): Promise<void> {
    await this.#inner.put(key, bytes, o);
    if (this.#lie?.kind === 'duplicate') {
      this.told++;
      await this.#inner.put(key, bytes, o);
    }
  }

  async get(key: string, o?: GetOptions): Promise<Uint8Array | null> {
    const lie = this.#lie;
    if (lie?.kind === 'withhold' && key !== 'vault' && lie.rng.chance(0.5)) {
      this.told++;
      return null;
    }
    const bytes = await this.#inner.get(key, o);
    if (!bytes || o?.range) return bytes;
    const versions = this.#seen.get(key) ?? [];
    if (lie?.kind === 'rollback' && versions.length > 0 && !same(versions[0]!, bytes)) {
      this.told++;
      return versions[0]!.slice();
    }
    if (versions.length === 0 || !same(versions[versions.length - 1]!, bytes)) this.#seen.set(key, [...versions, bytes.slice()].slice(-2));
    return bytes;
  }

  async head(key: string, o?: RemoteCallOptions): Promise<RemoteObjectInfo | null> {
    if (this.#lie?.kind === 'withhold' && key !== 'vault' && this.#lie.rng.chance(0.5)) {
      this.told++;
      return null;
    }
    return this.#inner.head(key, o);
  }

  async list(prefix: string, o?: ListOptions): Promise<RemoteObjectInfo[]> {
    const items = await this.#inner.list(prefix, o);
    const lie = this.#lie;
    if (!lie || items.length === 0) return items;
    switch (lie.kind) {
      case 'withhold':
        this.told++;
        return items.filter(() => lie.rng.chance(0.5));
      case 'duplicate':
        this.told++;
        return items.flatMap((i) => [i, i]);
      case 'reorder': {
        this.told++;
        const out = [...items];
        for (let i = out.length - 1; i > 0; i--) {
          const j = lie.rng.int(i + 1);
          [out[i], out[j]] = [out[j]!, out[i]!];
        }
        return out;
      }
      case 'rollback':
        return items;
    }
  }

  async delete(key: string, o?: RemoteCallOptions): Promise<void> {
    return this.#inner.delete(key, o);
  }

  watch(prefix: string, onChange: () => void): () => void {
    return canWatch(this.#inner) ? this.#inner.watch(prefix, onChange) : () => undefined;
  }

  async getMany(keys: readonly string[], o?: RemoteCallOptions): Promise<Map<string, Uint8Array | null>> {
    // While lying, every read goes through get() so each one can be a lie.
    if (!this.#lie && canGetMany(this.#inner)) {
      const got = await this.#inner.getMany(keys, o);
      for (const [k, b] of got) if (b) this.#remember(k, b);
      return got;
    }
    return new Map(await Promise.all(keys.map(async (k) => [k, await this.get(k, o)] as const)));
  }

  useDeviceKey(key: RemoteDeviceKey): void {
    lendDeviceKey(this.#inner, key);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #remember(key: string, bytes: Uint8Array): void {
    const versions = this.#seen.get(key) ?? [];
    if (versions.length === 0 || !same(versions[versions.length - 1]!, bytes)) this.#seen.set(key, [...versions, bytes.slice()].slice(-2));
  }
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A small tmpfs (needs root) holding every device's home and the folder
 * remote, so that a full disk is a real ENOSPC. `fill()` writes a filler
 * file until the disk is full; `free()` removes it.
 */
export class SmallDisk {
  readonly dir: string;
  readonly #filler: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.#filler = join(dir, '.filler');
  }

  /** Mounts a tmpfs of `mib` MiB on `dir`; undefined (and nothing mounted) when that is not possible here. */
  static mount(dir: string, mib: number): SmallDisk | undefined {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'ignore' });
      return new SmallDisk(dir);
    } catch {
      return undefined;
    }
  }

  /** Fills the disk to the last block (a write of 4 KiB then fails with ENOSPC). */
  fill(): void {
    const fd = openSync(this.#filler, 'a');
    try {
      const big = Buffer.alloc(1 << 20);
      for (const chunk of [big, big.subarray(0, 4096), big.subarray(0, 1)]) {
        try {
          for (;;) writeSync(fd, chunk);
        } catch {
          // ENOSPC: go on with a smaller chunk
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  free(): void {
    rmSync(this.#filler, { force: true });
  }

  /** Free bytes now. */
  available(): number {
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  unmount(): void {
    this.free();
    try {
      execFileSync('umount', ['-l', this.dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** A device clock that can jump: true time plus an offset the soak moves. */
export class JumpingClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;

  /** `ahead` / `behind` by up to 30 days (x in [0,1) says how far), or back to true time. */
  jump(direction: string, x: number): void {
    const by = Math.round(60_000 + x * 30 * 86_400_000);
    this.offsetMs = direction === 'ahead' ? by : direction === 'behind' ? -by : 0;
  }
}
