import fs from 'node:fs';
import path from 'node:path';
import { VERIFY_LOG } from '../audit/index.js';
import type { RuntimePlan } from '../config/index.js';
import { parseDuration } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { Baseline } from './baseline.js';
import { clockSync } from './clock-sync.js';
import type { CanaryRun, ReviewInput, VerifyRun } from './review.js';

/** The newest result `tollgate verify` recorded in the data dir, or null. */
function lastCliVerify(dataDir: string): VerifyRun | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, VERIFY_LOG), 'utf8');
  } catch {
    return null;
  }
  const lines = text.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]!) as {
        ts: number;
        ok: boolean;
        records: number;
        last_seq: number | null;
        problem: string | null;
      };
      if (typeof v.ts !== 'number') continue;
      return {
        at: v.ts,
        ok: v.ok === true,
        by: 'tollgate verify',
        detail: v.ok ? `${v.records} records, up to seq ${v.last_seq ?? '-'}` : (v.problem ?? 'failed'),
      };
    } catch {
      // a torn line
    }
  }
  return null;
}

interface AdminRec {
  event?: { outcome?: string; reason?: string | null };
  tollgate?: { labels?: Record<string, unknown> };
}

/** The newest `audit_verified` event (the running process verifies on its own every audit.chain.verify_interval). */
function lastProcessVerify(store: Store): VerifyRun | null {
  const row = store.events({ action: 'audit_verified' }, 1)[0];
  if (row === undefined) return null;
  const r = JSON.parse(row.rec) as AdminRec;
  const ok = r.event?.outcome === 'success';
  return {
    at: row.ts,
    ok,
    by: 'the running Tollgate',
    detail: ok
      ? `up to seq ${String(r.tollgate?.labels?.verified_seq ?? '-')}`
      : (r.event?.reason ?? 'failed'),
  };
}

function canaryRuns(store: Store, since: number): CanaryRun[] {
  return store.events({ action: 'audit_canary', since }, 100_000).map((row) => {
    const r = JSON.parse(row.rec) as AdminRec;
    return { at: row.ts, ok: r.event?.outcome === 'success', reason: r.event?.reason ?? null };
  });
}

/**
 * What a review looks at, from the plan and the store (the same for `tollgate review` on the
 * host and `GET /api/v1/review` in the process). `live` is the running process's own newest
 * verification, when it has one not yet in the store. No store yet (Tollgate never ran with this
 * config): the checks of state fail for want of it.
 */
export async function gatherReviewInput(
  plan: RuntimePlan,
  store: Store | null,
  baseline: Baseline,
  now: number,
  live: VerifyRun | null = null,
): Promise<ReviewInput> {
  const window =
    baseline.checks.canaries === undefined ? 86_400_000 : parseDuration(baseline.checks.canaries.window);
  const verifies = [
    lastCliVerify(plan.dataDir),
    store === null ? null : lastProcessVerify(store),
    live,
  ].filter((v): v is VerifyRun => v !== null);
  verifies.sort((a, b) => b.at - a.at);
  return {
    plan,
    now,
    tokens: (store?.tokens.list() ?? []).map((t) => ({
      name: t.name,
      createdAt: t.createdAt,
      expiresAt: t.expiresAt,
      revokedAt: t.revokedAt,
    })),
    lastVerify: verifies[0] ?? null,
    canaries: store === null ? [] : canaryRuns(store, now - window),
    clock: await clockSync(),
  };
}
