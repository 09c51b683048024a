/**
 * The throwaway PostgreSQL server survives a SIGKILL of its postmaster:
 * restart(…, 'kill9') brings it back on the same port with committed rows
 * (crash recovery) when started crash-safe, as the fault soak relies on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startPostgres } from './postgres-process.js';

test('restart after kill -9 of the postmaster: same port, committed rows kept', { timeout: 120_000 }, async () => {
  const server = await startPostgres({ crashSafe: true });
  try {
    const url = await server.database();
    const query = async (sql: string): Promise<unknown[]> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(sql)).rows as unknown[];
      } finally {
        await c.end();
      }
    };
    await query('CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)');
    await server.restart(100, 'kill9');
    assert.deepEqual(await query('SELECT n FROM t ORDER BY n'), [{ n: 1 }, { n: 2 }]);
  } finally {
    await server.stop();
  }
});
