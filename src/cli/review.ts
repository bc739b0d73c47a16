import fs from 'node:fs';
import { loadConfigFile } from '../config/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import type { ReviewReport } from '../review/index.js';
import { gatherReviewInput, loadBaseline, review, reviewText } from '../review/index.js';
import { openStore } from '../store/index.js';

export interface ReviewOptions {
  config: string;
  baseline?: string;
  format?: string;
}

/**
 * `tollgate review -c FILE`: the config and the state in its data dir (tokens, canary and
 * verify results, the key's mode, the OS clock) against the baseline; each check pass/fail
 * with its reason and requirement; exit 1 when any check fails.
 */
export async function reviewCommand(options: ReviewOptions): Promise<void> {
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json')
    throw new TollgateError(ErrorCode.USAGE, `--format: expected text or json, got "${format}"`, {
      source: 'usage',
    });
  const report = await reviewConfigFile(options.config, options.baseline, Date.now());
  process.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : reviewText(report));
  if (report.failed > 0) process.exitCode = 1;
}

/**
 * The review of a config file and the state in its data dir (also the last section of `tollgate
 * report -c`). No store yet (Tollgate never ran with this config): the checks of state say so.
 */
export async function reviewConfigFile(
  configFile: string,
  baselineFile: string | undefined,
  now: number,
): Promise<ReviewReport> {
  const plan = loadConfigFile(configFile);
  const { file, baseline } = loadBaseline(baselineFile ?? plan.reviewBaseline);
  let store: ReturnType<typeof openStore> | null = null;
  if (fs.existsSync(plan.audit.storePath)) {
    try {
      store = openStore(plan.audit.storePath, { readonly: true });
    } catch (err) {
      throw new TollgateError(
        ErrorCode.USAGE,
        `cannot open the store ${plan.audit.storePath}: ${(err as Error).message}`,
        { source: 'usage' },
      );
    }
  }
  try {
    return review(await gatherReviewInput(plan, store, baseline, now), baseline, file);
  } finally {
    store?.close();
  }
}
