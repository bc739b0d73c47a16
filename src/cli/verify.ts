import fs from 'node:fs';
import path from 'node:path';
import { verifyChain } from '../audit/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import { openStore } from '../store/index.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

/** `tollgate verify`: exit 0 when the chain and every checkpoint hold, 1 naming the first bad seq. */
export function verifyCommand(options: StoreOptions & { quiet?: boolean }): void {
  const { dataDir, storePath } = storeLocation(options);
  const pubFile = path.join(dataDir, 'chain-key.pub.pem');
  if (!fs.existsSync(pubFile)) {
    throw new TollgateError(
      ErrorCode.USAGE,
      `no public key at ${pubFile}: is ${dataDir} a Tollgate data directory?`,
      { source: 'usage' },
    );
  }
  const store = openStore(storePath, { readonly: true });
  const progress = process.stderr.isTTY && options.quiet !== true;
  const started = Date.now();
  try {
    const r = verifyChain(
      store,
      fs.readFileSync(pubFile, 'utf8'),
      path.join(dataDir, 'checkpoints.jsonl'),
      (n, total) => {
        if (progress)
          process.stderr.write(
            `\rverifying: ${n} of ${total} records (${Math.round((100 * n) / Math.max(1, total))}%)`,
          );
      },
    );
    if (progress) process.stderr.write('\n');
    if (!r.ok) {
      process.stdout.write(`FAIL: ${r.problem}\n`);
      process.exitCode = 1;
      return;
    }
    const cp = r.lastCheckpoint;
    process.stdout.write(
      `ok: ${r.records} records, seq ${r.firstSeq ?? '-'}..${r.lastSeq ?? '-'}, chain intact; ${r.checkpoints} signed checkpoints hold` +
        `${cp === null ? '' : ` (last at seq ${cp.seq}, ${new Date(cp.ts).toISOString()})`}; ${Date.now() - started} ms\n`,
    );
    if (r.lastSeq !== null && (cp === null || cp.seq < r.lastSeq)) {
      process.stdout.write(
        `note: seq ${(cp?.seq ?? 0) + 1}..${r.lastSeq} are chained but not yet covered by a signed checkpoint\n`,
      );
    }
  } finally {
    store.close();
  }
}
