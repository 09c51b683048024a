/**
 * One measurement in its own process, so peak RSS is this task's alone:
 * `node worker.js MODULE.TASK N DIR`. Loads only that module's libraries,
 * runs the task and prints its figures as one JSON line. Tasks read their
 * own peak RSS where it matters, so each names which step it belongs to.
 * @module
 */
import { mkdirSync } from 'node:fs';
import type { Task } from './measure.js';

const [spec = '', nArg = '', dir = ''] = process.argv.slice(2);
const [mod = '', name = ''] = spec.split('.');
if (!/^[a-z]+$/.test(mod) || !dir) throw new Error(`usage: worker.js MODULE.TASK N DIR (got ${spec})`);
const { tasks } = (await import(`./tasks/${mod}.js`)) as { tasks: Record<string, Task> };
const task = tasks[name];
if (!task) throw new Error(`unknown task ${spec}`);
mkdirSync(dir, { recursive: true });
const figures = await task(Number(nArg), dir);
process.stdout.write(JSON.stringify(figures) + '\n');
