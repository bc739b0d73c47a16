import { cmp, durations, round } from './figures.js';
import type { RequestPass } from './request-pass.js';
import type { BackendRow } from './types.js';

/**
 * The slow-backend rule (docs/report.md): a backend is slow when it has at least `min_attempts`
 * attempts in the window and its p99 attempt duration is above `min_p99_ms` and more than
 * `ratio` times the median p99 of the other backends of its pool that have enough attempts.
 */
export const SLOW_RULE = { ratio: 2, min_p99_ms: 100, min_attempts: 10 } as const;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function slowBackends(req: RequestPass): BackendRow[] {
  const { ratio, min_p99_ms, min_attempts } = SLOW_RULE;
  const rows: BackendRow[] = [];
  for (const [pool, backends] of req.backends) {
    const measured = [...backends].map(([backend, b]) => ({
      backend,
      attempts: b.durations.count,
      ...durations(b.durations),
    }));
    for (const m of measured) {
      const peers = measured
        .filter((p) => p !== m && p.attempts >= min_attempts && p.p99_ms !== null)
        .map((p) => p.p99_ms!);
      const peerMedian = round(median(peers));
      const p99 = m.p99_ms;
      let slow = false;
      let verdict: string;
      if (m.attempts < min_attempts || p99 === null)
        verdict = `too few attempts to judge (${m.attempts} < ${min_attempts})`;
      else if (peerMedian === null) verdict = 'no pool peer with enough attempts to compare with';
      else if (p99 > ratio * peerMedian && p99 > min_p99_ms) {
        slow = true;
        verdict = `slow: p99 ${p99} ms > ${ratio}× the peers' median p99 (${peerMedian} ms) and > ${min_p99_ms} ms`;
      } else verdict = `ok: p99 ${p99} ms, peers' median p99 ${peerMedian} ms`;
      rows.push({ pool, ...m, peer_median_p99_ms: peerMedian, slow, verdict });
    }
  }
  return rows.sort(
    (a, b) => Number(b.slow) - Number(a.slow) || cmp(a.pool, b.pool) || cmp(a.backend, b.backend),
  );
}
