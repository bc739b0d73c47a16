import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cliAsync } from '../helpers/audit.js';
import type { Postgres } from '../helpers/services.js';
import { startPostgres } from '../helpers/services.js';
import { outage, sinkSuite, storeSeqs, until } from '../helpers/sink-load.js';
import { readStore } from '../helpers/store.js';

/**
 * Network sinks (issue 6): each ships the store's records from its own cursor. Under a steady
 * load the receiver (rsyslog, PostgreSQL) is stopped for ten seconds and Tollgate itself is
 * restarted in the middle; afterwards every record of the store has arrived, and PostgreSQL,
 * which allows idempotence, holds none twice.
 */

describe('sinks: PostgreSQL loses and duplicates nothing while the server is away', () => {
  const { tempDir, routes } = sinkSuite();

  it('PostgreSQL: the server stopped for 10 s under load and Tollgate restarted meanwhile; every record arrives exactly once and query --store reads them', async () => {
    const pg: Postgres = await startPostgres();
    const dir = tempDir('pg');
    try {
      const { tg, dataDir } = await outage(
        dir,
        `${routes()}audit: { sinks: [{ type: postgres, url: "${pg.url}" }] }\n`,
        pg,
      );
      try {
        const expected = storeSeqs(dataDir);
        const count = () => Number(pg.psql('SELECT count(*) FROM tollgate_records'));
        await until(
          `PostgreSQL to hold ${expected.length} records`,
          () => count() >= expected.length,
          30_000,
        );
        assert.equal(count(), expected.length, 'none twice');
        assert.equal(
          Number(pg.psql('SELECT count(DISTINCT (instance, seq)) FROM tollgate_records')),
          expected.length,
        );
        const partitions = pg.psql(
          "SELECT count(*) FROM pg_inherits WHERE inhparent = 'tollgate_records'::regclass",
        );
        assert.ok(Number(partitions) >= 1, 'partitioned by day');
        const instances = Number(pg.psql('SELECT count(DISTINCT instance) FROM tollgate_records'));
        assert.equal(instances, 2, 'each process is its own instance: one before the restart, one after');
        const q = await cliAsync([
          'query',
          '--store',
          pg.url,
          '--route',
          'r',
          '--limit',
          '5',
          '--format',
          'json',
        ]);
        assert.equal(q.code, 0, q.stderr);
        const lines = q.stdout.trim().split('\n');
        assert.equal(lines.length, 5);
        const newest = readStore(dataDir).requests.at(-1)!;
        assert.equal(
          (JSON.parse(lines[0]!) as { http: { request: { id: string } } }).http.request.id,
          newest.http.request.id,
        );
        const table = await cliAsync(['query', '--store', pg.url, '--status', '5xx']);
        assert.equal(table.code, 0, table.stderr);
        assert.equal(table.stdout, 'no records match\n');
      } finally {
        await tg.stop();
      }
    } finally {
      await pg.destroy();
    }
  });
});
