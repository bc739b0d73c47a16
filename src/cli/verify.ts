import fs from 'node:fs';
import path from 'node:path';
import type { TrailGap } from '../audit/index.js';
import { CentralStore, VERIFY_LOG, verifyChain } from '../audit/index.js';
import { ErrorCode, formatDuration, TollgateError } from '../core/index.js';
import { openStore } from '../store/index.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

export interface VerifyOptions extends StoreOptions {
  quiet?: boolean;
  allowGaps?: boolean;
  record?: boolean;
  /** `postgres://…`: verify each instance's chain in a fleet's central store. */
  store?: string;
  instance?: string;
  table?: string;
}

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

/**
 * `tollgate verify --store postgres://…`: one line per instance, `NAME: ok: …` or
 * `NAME: FAIL: seq N altered|missing|out of order`; exit 1 when any fails.
 */
async function verifyCentral(o: VerifyOptions): Promise<void> {
  const url = o.store!;
  if (!/^postgres(ql)?:\/\//.test(url)) throw usage(`--store: "${url}" is not a postgres:// URL`);
  const table = o.table ?? 'tollgate_records';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) throw usage(`--table: "${table}" is not a table name`);
  const central = new CentralStore(url, table);
  let out = '';
  let failed = false;
  try {
    const instances = o.instance === undefined ? await central.instances() : [o.instance];
    if (instances.length === 0) out += 'no records in the central store\n';
    for (const name of instances) {
      const r = await central.verifyChain(name);
      if (!r.ok) {
        failed = true;
        out += `${name}: FAIL: ${r.problem}\n`;
      } else if (r.records === 0) {
        failed = true;
        out += `${name}: FAIL: no records of this instance\n`;
      } else {
        out += `${name}: ok: ${r.records} records, seq ${r.firstSeq}..${r.lastSeq}, chain intact${
          r.anchored ? ` from seq ${r.firstSeq} (the records before it are not in this store)` : ''
        }\n`;
      }
    }
  } catch (err) {
    throw new TollgateError(ErrorCode.USAGE, `cannot read ${new URL(url).host}: ${(err as Error).message}`, {
      source: 'usage',
    });
  } finally {
    await central.close();
  }
  process.stdout.write(
    `${out}note: signed checkpoints stay in each instance's data dir (tollgate verify --data DIR there)\n`,
  );
  if (failed) process.exitCode = 1;
}

/** `tollgate verify`: exit 0 when the chain and every checkpoint hold, 1 naming the first bad seq. */
export function verifyCommand(options: VerifyOptions): void | Promise<void> {
  if (options.store !== undefined) return verifyCentral(options);
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
