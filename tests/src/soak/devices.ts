/**
 * @module soak/devices
 * The devices of a run, behind one interface: real `kith` CLI processes
 * (each with its own home; the soak can kill -9 them mid-command) and
 * library vaults in the soak's own process (faster; with an injectable
 * clock, a lying view of the remote, and the SQLite or the in-memory store).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KithError, Vault, type Doc, type Remote } from '@kith/core';
import { openMemoryStore } from '@kith/core/testing';
import { openSqliteStore } from '@kith/sqlite';
import { kith, kithJsonAsync as kithJson, type KithRun } from 'kith/testing';
import { JumpingClock, LyingRemote } from './faults.js';
import { clearRefusal, type Dump, type Rec } from './model.js';
import type { DeviceSpec } from './plan.js';

/** How an operation ended. `unknown`: killed or refused mid-way, so it may or may not have happened. */
export type Outcome =
  | { readonly status: 'ok' }
  | { readonly status: 'killed' }
  | { readonly status: 'refused'; readonly code: string; readonly clear: boolean; readonly message: string };

/** A write or a sync, as every device kind performs it. */
export type Action =
  | { readonly kind: 'put' | 'patch'; readonly collection: string; readonly id: string; readonly fields: Record<string, unknown> }
  | { readonly kind: 'delete'; readonly collection: string; readonly id: string }
  | { readonly kind: 'import'; readonly collection: string; readonly records: readonly Record<string, unknown>[] }
  | { readonly kind: 'push' | 'pull' | 'sync' };

export interface Device {
  readonly spec: DeviceSpec;
  readonly deviceId: string;
  /** Runs `a`; a CLI device is killed `killAt` (0..1 of the command's usual duration) in when given. */
  run(a: Action, killAt?: number): Promise<Outcome>;
  dump(): Promise<Dump>;
  close(): Promise<void>;
}

/** The outcome of a call that threw: a clear refusal only if a one-line KithError. */
export function refusal(e: unknown): Outcome {
  if (e instanceof KithError) return { status: 'refused', code: e.code, clear: !e.message.includes('\n'), message: e.message };
  return { status: 'refused', code: 'not a KithError', clear: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/** A real CLI process per command. */
export class CliDevice implements Device {
  readonly spec: DeviceSpec;
  readonly home: string;
  deviceId = '';
  /** Where import files go: not the device's disk, which a fault may fill. */
  readonly #scratch: string;
  #files = 0;
  /** How long each command last took when it ran to the end: kills land within it. */
  readonly #took = new Map<string, number>();

  constructor(spec: DeviceSpec, dir: string, scratch: string) {
    this.spec = spec;
    this.#scratch = scratch;
    this.home = join(dir, spec.name);
  }

  /** `kith init` (first device): returns the recovery code. */
  async init(url: string): Promise<string> {
    const r = await kithJson<{ recoveryCode: string; deviceId: string }>(this.home, ['init', '--remote', url, '--name', this.spec.name]);
    this.deviceId = r.deviceId;
    return r.recoveryCode;
  }

  async restore(url: string, code: string): Promise<void> {
    const r = await kithJson<{ deviceId?: string }>(this.home, ['restore', '--remote', url, '--recovery-code', code, '--name', this.spec.name]);
    this.deviceId = r.deviceId ?? (await kithJson<{ deviceId: string }>(this.home, ['status'])).deviceId;
  }

  async run(a: Action, killAt?: number): Promise<Outcome> {
    const args = this.#args(a);
    const usual = this.#took.get(a.kind) ?? 800;
    const started = Date.now();
    const r: KithRun = await kith(this.home, [...args, '--json'], killAt === undefined ? {} : { killAfterMs: 20 + Math.round(killAt * usual * 1.2) });
    if (r.signal) return { status: 'killed' };
    if (r.code === 0) {
      this.#took.set(a.kind, Date.now() - started);
      return { status: 'ok' };
    }
    const code = /\b(KITH_[A-Z_]+)\b/.exec(r.stderr)?.[1] ?? `exit ${String(r.code)}`;
    return { status: 'refused', code, clear: clearRefusal(r.stderr), message: r.stderr.trim() };
  }

  #args(a: Action): string[] {
    switch (a.kind) {
      case 'put':
      case 'patch':
        return [a.kind, a.collection, a.id, JSON.stringify(a.fields)];
      case 'delete':
        return ['rm', a.collection, a.id];
      case 'import': {
        const file = join(this.#scratch, `${this.spec.name}-import-${++this.#files}.jsonl`);
        writeFileSync(file, a.records.map((r) => JSON.stringify(r)).join('\n'));
        return ['import', a.collection, file];
      }
      default:
        return [a.kind];
    }
  }

  async dump(): Promise<Dump> {
    const [c, s] = [await kithJson<Rec[]>(this.home, ['ls', 'c']), await kithJson<Rec[]>(this.home, ['ls', 's'])];
    return { c, s };
  }

  async close(): Promise<void> {}
}

/** A vault in this process. */
export class LibDevice implements Device {
  readonly spec: DeviceSpec;
  readonly vault: Vault;
  readonly lying: LyingRemote;
  readonly clock: JumpingClock;

  private constructor(spec: DeviceSpec, vault: Vault, lying: LyingRemote, clock: JumpingClock) {
    this.spec = spec;
    this.vault = vault;
    this.lying = lying;
    this.clock = clock;
  }

  get deviceId(): string {
    return this.vault.deviceId;
  }

  /**
   * A new device of the vault: with the recovery code, or paired by an
   * existing library device (both sides in this process, the code passed
   * across as a person would type it).
   */
  static async join(spec: DeviceSpec, dir: string, remote: Remote, url: string, how: { code: string } | { by: LibDevice }): Promise<LibDevice> {
    const lying = new LyingRemote(remote);
    const clock = new JumpingClock();
    let store;
    if (spec.store === 'sqlite') {
      mkdirSync(join(dir, spec.name), { recursive: true });
      store = await openSqliteStore(join(dir, spec.name, 'kith.db'));
    } else store = openMemoryStore();
    const base = { store, remote: lying, remoteUrl: url, deviceName: spec.name, deps: { now: clock.now } };
    if ('code' in how) return new LibDevice(spec, await Vault.restore({ ...base, recoveryCode: how.code }), lying, clock);
    let code!: (c: string) => void;
    const codeShown = new Promise<string>((resolve) => (code = resolve));
    // A joiner that gives up stops the inviter too, instead of leaving it polling for a minute.
    const stop = new AbortController();
    const [, vault] = await Promise.all([
      how.by.vault.devices.pair({ onCode: code, confirm: async () => true, pollMs: 25, timeoutMs: 60_000, signal: stop.signal }),
      codeShown
        .then((c) => Vault.join({ ...base, code: c, pollMs: 25, timeoutMs: 60_000 }))
        .catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
    ]);
    return new LibDevice(spec, vault, lying, clock);
  }

  async run(a: Action): Promise<Outcome> {
    const v = this.vault;
    try {
      switch (a.kind) {
        case 'put':
          await v.put(a.collection, a.id, a.fields as never);
          break;
        case 'patch':
          await v.patch(a.collection, a.id, a.fields as never);
          break;
        case 'delete':
          await v.delete(a.collection, a.id);
          break;
        case 'import':
          await v.batch((b) => {
            for (const { id, ...fields } of a.records) b.put(a.collection, String(id), fields as never);
          });
          break;
        default:
          await v[a.kind]();
      }
      return { status: 'ok' };
    } catch (e) {
      return refusal(e);
    }
  }

  /** Stores `bytes` as an attachment and returns its ref. */
  async blob(bytes: Uint8Array): Promise<{ ref: string } | Outcome> {
    try {
      return { ref: (await this.vault.blobs.put(bytes)).ref };
    } catch (e) {
      return refusal(e);
    }
  }

  async blobBytes(ref: string): Promise<Uint8Array> {
    return this.vault.blobs.bytes(ref);
  }

  async dump(): Promise<Dump> {
    const all = async (collection: string): Promise<Rec[]> => {
      const out: Doc[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await this.vault.list(collection, after === undefined ? { limit: 500 } : { limit: 500, after });
        out.push(...page.records);
        if (!page.next) return out;
        after = page.next;
      }
    };
    return { c: await all('c'), s: await all('s') };
  }

  async close(): Promise<void> {
    await this.vault.close().catch(() => undefined);
  }
}
