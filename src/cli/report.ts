import fs from 'node:fs';
import path from 'node:path';
import type { ReportFormat } from '../audit/index.js';
import { buildReport, REPORT_FORMATS, renderReport } from '../audit/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import { openStore, parseTime } from '../store/index.js';
import { reviewConfigFile } from './review.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

export interface ReportCommandOptions extends StoreOptions {
  since: string;
  until?: string;
  format: string;
  top: string;
  verify?: boolean;
}

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

/**
 * `tollgate report`: the review of a window (default the last 24 h) from the store alone, on
 * stdout as Markdown, JSON or HTML. Exit 0; with --verify, exit 1 when the chain does not verify
 * (the report is printed all the same and says why).
 */
export async function reportCommand(o: ReportCommandOptions, now = Date.now()): Promise<void> {
  if (!(REPORT_FORMATS as readonly string[]).includes(o.format))
    throw usage(`--format: "${o.format}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const top = Number(o.top);
  if (!Number.isInteger(top) || top < 1 || top > 1000)
    throw usage(`--top: "${o.top}" is not a whole number from 1 to 1000`);
  const since = parseTime('--since', o.since, now);
  const until = o.until === undefined ? now : parseTime('--until', o.until, now);
  if (since >= until)
    throw usage(
      `--since (${new Date(since).toISOString()}) must be before --until (${new Date(until).toISOString()})`,
    );
  const { dataDir, storePath } = storeLocation(o);
  const review = o.config === undefined ? null : await reviewConfigFile(o.config, undefined, now);
  let verify: { publicKeyPem: string; checkpointsFile: string } | null = null;
  const store = openStore(storePath, { readonly: true });
  try {
    if (o.verify === true) {
      const pubFile = path.join(dataDir, 'chain-key.pub.pem');
      if (!fs.existsSync(pubFile))
        throw usage(`--verify: no public key at ${pubFile}: is ${dataDir} a Tollgate data directory?`);
      verify = {
        publicKeyPem: fs.readFileSync(pubFile, 'utf8'),
        checkpointsFile: path.join(dataDir, 'checkpoints.jsonl'),
      };
    }
    const report = buildReport(store, { since, until, now, top, verify, review });
    process.stdout.write(renderReport(report, o.format as ReportFormat));
    if (report.audit.verify !== null && !report.audit.verify.ok) {
      process.stderr.write(`tollgate: the audit chain does not verify: ${report.audit.verify.problem}\n`);
      process.exitCode = 1;
    }
  } finally {
    store.close();
  }
}
