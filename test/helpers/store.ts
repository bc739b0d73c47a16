import assert from 'node:assert/strict';
import path from 'node:path';
import type { AdminRecord, RequestRecord } from '../../src/audit/index.js';
import { withHash } from '../../src/audit/index.js';
import { openStore } from '../../src/store/index.js';
import { cli } from './audit.js';
import { assertValidRecord } from './schema.js';
import type { Harness } from './tollgate.js';

/** Everything in a data dir's store, in chain order: request records (schema-checked) and admin records. */
export function readStore(
  dataDir: string,
  storeFile = 'audit.db',
): { requests: RequestRecord[]; admin: AdminRecord[] } {
  const store = openStore(path.join(dataDir, storeFile), { readonly: true });
  try {
    const requests: RequestRecord[] = [];
    const admin: AdminRecord[] = [];
    for (let from = 1; ; ) {
      const rows = store.rowsFrom(from, 10_000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const rec = JSON.parse(withHash(row.rec, row.hash));
        if (row.kind === 'request') {
          assertValidRecord(rec);
          requests.push(rec);
        } else admin.push(rec);
      }
      from = rows[rows.length - 1]!.seq + 1;
    }
    return { requests, admin };
  } finally {
    store.close();
  }
}

/**
 * Stops an in-process Tollgate (its data dir stays until close()), then checks that the store has
 * exactly one record per record the harness saw (same request ids) and that `tollgate verify`
 * passes on it (needs dist/: call buildDist() in the suite's before()). Returns the stored records.
 */
export async function assertStoredAndVerified(tg: Harness): Promise<RequestRecord[]> {
  await tg.app.stop(1000);
  const { requests } = readStore(tg.dataDir);
  assert.deepEqual(
    requests.map((r) => r.http.request.id).sort(),
    tg.records.map((r) => r.http.request.id).sort(),
    'exactly one stored record per request',
  );
  const v = cli(['verify', '--data', tg.dataDir, '--quiet']);
  assert.equal(v.code, 0, `verify: ${v.stdout}${v.stderr}`);
  return requests;
}
