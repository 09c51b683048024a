/**
 * The README's "## Spaces" example, run as written so it cannot go stale:
 * each line of its `sh` block through `sh -c`, in order, exit 0. Liberties
 * taken: `kith --home` is this package's binary; `/tmp/NAME` is NAME in a fresh
 * temporary directory; `space invite` runs in the background with `--yes
 * --json` (there is no terminal to compare the digits on) and `<INVITE>`
 * in the next command is the code it printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { KITH_BIN, startKith, type Started } from './testing/index.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The commands of the example: its `sh` block's lines, comments and blank lines dropped. */
function exampleCommands(markdown: string): string[] {
  const section = /^## Spaces\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  const block = section && /^```sh\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!block) throw new Error('packages/cli/README.md has no sh block under "## Spaces"');
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function sh(command: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test("the README's spaces example runs as written", { timeout: 300_000 }, async () => {
  const commands = exampleCommands(readFileSync(README, 'utf8'));
  assert.ok(commands.some((c) => c.includes('space invite')) && commands.some((c) => c.includes('<INVITE>')));
  const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-readme-'));
  try {
    let inviting: Started | undefined;
    let code: string | undefined;
    for (const written of commands) {
      const command = written.replaceAll('/tmp/', `${dir}/`);
      const invite = /^kith --home (\S+) (space invite .*)$/.exec(command);
      if (invite) {
        inviting = startKith(invite[1]!, [...invite[2]!.split(' '), '--yes', '--json']);
        code = (JSON.parse(await inviting.firstLine) as { code: string }).code;
        continue;
      }
      assert.ok(!command.includes('<INVITE>') || code !== undefined, `no invite before: ${written}`);
      const r = await sh(command.replace('<INVITE>', code ?? '').replace(/\bkith --home /g, `'${process.execPath}' '${KITH_BIN}' --home `), dir);
      assert.equal(r.code, 0, `${written}\n${r.stderr}`);
      if (command.includes('<INVITE>')) {
        const done = await inviting!.done;
        assert.equal(done.code, 0, done.stderr);
        inviting = undefined;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
