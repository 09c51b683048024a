/**
 * The README's CLI tour, run as written, so it cannot go stale.
 *
 * The tour is every fenced `sh` block under "## CLI tour" in README.md. A
 * command is one line (continued while a quote is open), `#` comments
 * dropped; each runs through `sh -c`, in order, and must exit 0. The only
 * liberties taken with the text (anything else the test cannot run fails
 * it, as an unknown placeholder does):
 *
 * - `npx kith` is `node packages/cli/bin/kith.js` (npx costs seconds a call).
 * - `/tmp/NAME` is NAME inside a fresh temporary directory, which is also
 *   the working directory; `photo.jpg` is put there first (random bytes).
 * - A placeholder is the first match of its pattern in the stdout of the
 *   most recent earlier command of the kind that prints it (see SOURCES).
 * - `pair` and `space invite` run in the background with `--yes` (there is
 *   no terminal to confirm the SAS on) until the next command, their `join`,
 *   has finished.
 * - `password set` and `restore --password` read $KITH_PASSWORD.
 * - `--recovery-code -` reads, on stdin, the code the latest `init` printed.
 * - `sync --watch` is stopped with SIGINT after its first round.
 * - The S3 URL's endpoint is a local s3rver holding its bucket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver, type S3rverProcess } from '@kith/s3/testing';
import { KITH_BIN } from 'kith/testing';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const PASSWORD = 'correct horse battery staple, twice';
const GROUP4 = '[0-9A-Z]{4}(?:-[0-9A-Z]{4}){7}';

/** Placeholder → (which earlier commands print its value, the value's pattern). */
const SOURCES: readonly { placeholder: RegExp; from: RegExp; value: RegExp }[] = [
  { placeholder: /XXXX(?:-XXXX){7}/, from: / init /, value: new RegExp(GROUP4) },
  { placeholder: /<CODE>/, from: / pair\b/, value: new RegExp(GROUP4) },
  { placeholder: /<DEVICE_ID>/, from: / (?:conflicts|join) /, value: /\b[0-9a-f]{16}\b/ },
  { placeholder: /kith:blob:…/, from: / blob put /, value: /kith:blob:[0-9a-f]{64}/ },
  { placeholder: /<INVITE>/, from: / space invite /, value: new RegExp(`${GROUP4}@[^"\\s]+`) },
];

/** The tour's commands, in order. */
function tourCommands(markdown: string): string[] {
  const section = /^## CLI tour\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  if (section === undefined) throw new Error('README.md has no "## CLI tour" section');
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const commands: string[] = [];
  let pending = '';
  for (const line of blocks.join('').split('\n')) {
    pending = pending === '' ? line : `${pending}\n${line}`;
    const { open, code } = stripComment(pending);
    if (open) continue;
    if (code.trim() !== '') commands.push(code.trim());
    pending = '';
  }
  if (pending !== '') throw new Error(`unterminated quote in the tour: ${pending}`);
  return commands;
}

/** The command without its `#` comment, and whether a quote is still open at the end. */
function stripComment(text: string): { open: boolean; code: string } {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote !== '') {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const eol = text.indexOf('\n', i);
      return stripComment(text.slice(0, i) + (eol < 0 ? '' : text.slice(eol)));
    }
  }
  return { open: quote !== '', code: text };
}

interface Started {
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout(): string;
  /** stdout and stderr so far. */
  output(): string;
  interrupt(): void;
}

function start(command: string, cwd: string, stdin?: string): Started {
  // `exec` so that a signal reaches kith itself, not the shell.
  const simple = !/&&|\|\||[;|<>]/.test(command);
  const child = spawn('sh', ['-c', simple ? `exec ${command}` : command], {
    cwd,
    env: { ...process.env, KITH_PASSWORD: PASSWORD },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // A command that never ends (a server, say) fails the test instead of hanging it.
  const timer = setTimeout(() => {
    stderr += '\n(killed after 180 s: a command that does not end, which the tour test cannot run)';
    child.kill('SIGKILL');
  }, 180_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done, stdout: () => stdout, output: () => stdout + stderr, interrupt: () => child.kill('SIGINT') };
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the README CLI tour runs as written', { timeout: 600_000 }, async () => {
  const commands = tourCommands(readFileSync(README, 'utf8'));
  assert.ok(commands.length >= 20, `the tour has ${commands.length} commands`);
  const dir = mkdtempSync(join(tmpdir(), 'kith-readme-tour-'));
  let s3: S3rverProcess | undefined;
  let background: { command: string; run: Started } | undefined;
  try {
    const photo = randomBytes(300_000);
    writeFileSync(join(dir, 'photo.jpg'), photo);
    const outputs: { command: string; stdout: string }[] = [];
    for (const original of commands) {
      let command = original.replaceAll('npx kith', `"${process.execPath}" "${KITH_BIN}"`).replace(/\/tmp\/([\w.-]+)/g, (_m, name: string) => join(dir, name));
      for (const s of SOURCES) {
        if (!s.placeholder.test(command)) continue;
        const source = outputs.findLast((o) => s.from.test(o.command) && s.value.test(o.stdout));
        assert.ok(source, `no earlier command printed the value of ${s.placeholder.source} for: ${original}`);
        command = command.replace(new RegExp(s.placeholder.source, 'g'), s.value.exec(source.stdout)![0]);
      }
      assert.doesNotMatch(command, /<[A-Z_]+>|…|XXXX/, `a placeholder the tour test does not know: ${original}`);
      const s3url = /'s3:\/\/([^/]+)\/[^']*endpoint=(https?:\/\/[^&']+)[^']*'/.exec(command);
      if (s3url) {
        s3 ??= await startS3rver();
        await s3.bucket(s3url[1]);
        command = command.replace(s3url[2]!, s3.endpoint);
      }
      if (/ pair$| space invite /.test(command)) {
        background = { command: original, run: start(`${command} --yes`, dir) };
        const pairing = background.run;
        await until('the code', () => new RegExp(`${GROUP4}[^\n]*\n`).test(pairing.stdout()));
        outputs.push({ command, stdout: pairing.stdout() });
        continue;
      }
      let stdin: string | undefined;
      if (/ --recovery-code -(?:\s|$)/.test(command)) {
        const init = outputs.findLast((o) => / init /.test(o.command) && new RegExp(GROUP4).test(o.stdout));
        assert.ok(init, `no earlier init printed the recovery code for: ${original}`);
        stdin = `${new RegExp(GROUP4).exec(init.stdout)![0]}\n`;
      }
      const run = start(command, dir, stdin);
      if (/ sync --watch/.test(command)) {
        await until('a first sync round', () => run.output().trim() !== '').finally(() => run.interrupt());
      }
      const r = await run.done;
      assert.equal(r.code, 0, `\`${original}\` exited ${r.code}: ${r.stderr}`);
      outputs.push({ command, stdout: r.stdout });
      if (background) {
        const b = await background.run.done;
        assert.equal(b.code, 0, `\`${background.command}\` exited ${b.code}: ${b.stderr}`);
        background = undefined;
      }
    }
    assert.equal(background, undefined, 'the tour ends with a `pair` or `space invite` nobody joined');
    assert.deepEqual(readFileSync(join(dir, 'photo-copy.jpg')), photo, 'blob get returned the bytes blob put took');
  } finally {
    background?.run.interrupt();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
