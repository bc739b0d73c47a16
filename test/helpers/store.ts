import path from 'node:path';
import type { AdminRecord, RequestRecord } from '../../src/audit/index.js';
import { withHash } from '../../src/audit/index.js';
import { openStore } from '../../src/store/index.js';
import { assertValidRecord } from './schema.js';

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
