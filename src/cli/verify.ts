import fs from 'node:fs';
import path from 'node:path';
import type { TrailGap } from '../audit/index.js';
import { VERIFY_LOG, verifyChain } from '../audit/index.js';
import { ErrorCode, formatDuration, TollgateError } from '../core/index.js';
import { openStore } from '../store/index.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

/** `tollgate verify`: exit 0 when the chain and every checkpoint hold, 1 naming the first bad seq. */
export function verifyCommand(
  options: StoreOptions & { quiet?: boolean; allowGaps?: boolean; record?: boolean },
): void {
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
    const gapsFail = r.gaps.length > 0 && options.allowGaps !== true;
    if (options.record !== false) {
      recordResult(dataDir, {
        ts: Date.now(),
        ok: r.ok && !gapsFail,
        records: r.records,
        last_seq: r.lastSeq,
        gaps: r.gaps.length,
        problem: r.problem ?? (gapsFail ? `${r.gaps.length} heartbeat gap(s)` : null),
      });
    }
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
    for (const g of r.gaps) process.stdout.write(`${gapLine(g)}\n`);
    const m = r.lastMarker;
    if (m !== null && m.action !== 'audit_pipeline_stopped' && m.intervalMs > 0) {
      const silent = Date.now() - m.ts;
      if (silent > 2 * m.intervalMs)
        process.stdout.write(
          `note: no heartbeat since seq ${m.seq} (${new Date(m.ts).toISOString()}, ${formatDuration(silent)} ago) and no clean stop: Tollgate is not running or its writer stands still\n`,
        );
    }
    if (gapsFail) {
      process.stdout.write(
        `FAIL: ${r.gaps.length} heartbeat gap(s): the trail was not being written (--allow-gaps to accept them)\n`,
      );
      process.exitCode = 1;
    }
  } finally {
    store.close();
  }
}

function gapLine(g: TrailGap): string {
  return (
    `gap: no heartbeat for ${formatDuration(g.toTs - g.fromTs)} between seq ${g.fromSeq} (${new Date(g.fromTs).toISOString()}) ` +
    `and seq ${g.toSeq} (${new Date(g.toTs).toISOString()}); heartbeat every ${formatDuration(g.intervalMs)}` +
    `${g.cause === null ? '' : `; ${g.cause}`}`
  );
}

/** The result, appended to <data_dir>/verify.jsonl for `tollgate review` (best effort: a read-only copy is fine). */
function recordResult(dataDir: string, line: Record<string, unknown>): void {
  try {
    fs.appendFileSync(path.join(dataDir, VERIFY_LOG), `${JSON.stringify(line)}\n`, { mode: 0o644 });
  } catch {
    // verifying a copy on read-only media: nothing to record
  }
}
