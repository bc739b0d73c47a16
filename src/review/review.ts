import fs from 'node:fs';
import path from 'node:path';
import type { RuntimePlan } from '../config/index.js';
import type { ReviewAnswer } from '../core/index.js';
import { formatSpan, parseDuration } from '../core/index.js';
import type { Baseline, CheckId } from './baseline.js';
import type { ClockSync } from './clock-sync.js';

/** One finished verification of the chain: by `tollgate verify` or by the running process. */
export interface VerifyRun {
  at: number;
  ok: boolean;
  by: string;
  detail: string;
}

/** One canary run, from its `audit_canary` event. */
export interface CanaryRun {
  at: number;
  ok: boolean;
  reason: string | null;
}

/** An admin token as the review sees it (never its hash). */
export interface TokenFacts {
  name: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** Everything a review looks at; gathered from the running process or from the config and the store. */
export interface ReviewInput {
  plan: RuntimePlan;
  now: number;
  tokens: readonly TokenFacts[];
  /** The newest verification first, or none. */
  lastVerify: VerifyRun | null;
  /** Canary runs inside the baseline's window. */
  canaries: readonly CanaryRun[];
  clock: ClockSync;
}

export interface CheckResult {
  id: CheckId;
  status: 'pass' | 'fail' | 'skipped';
  requirement: string;
  reason: string;
}

/** The review as the admin API and the dashboard read it (core's `ReviewAnswer`), with this module's check ids. */
export interface ReviewReport extends ReviewAnswer {
  checks: CheckResult[];
}

const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/;

function sinkDestination(
  type: string,
  o: Readonly<Record<string, unknown>>,
): { host: string; text: string } | null {
  if (type === 'syslog') {
    const address = String(o.address);
    return {
      host: address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
      text: `syslog ${address}`,
    };
  }
  if (type === 'otlp' || type === 'postgres') {
    const u = new URL(String(type === 'otlp' ? o.endpoint : o.url));
    return { host: u.hostname.replace(/^\[|\]$/g, ''), text: `${type} ${u.host}` };
  }
  return null;
}

type Outcome = { ok: boolean; reason: string };
type Check = (input: ReviewInput, params: never) => Outcome;

const CHECKS: {
  [K in CheckId]-?: (input: ReviewInput, params: NonNullable<Baseline['checks'][K]>) => Outcome;
} = {
  chain(input, p) {
    const a = input.plan.audit;
    if (!a.chain.enabled)
      return { ok: false, reason: 'audit.chain.enabled is false: records are not hash-chained or signed' };
    const key = path.join(input.plan.dataDir, 'chain-key.pem');
    let mode: number;
    try {
      mode = fs.statSync(key).mode & 0o777;
    } catch {
      return {
        ok: false,
        reason: `the signing key ${key} does not exist (has Tollgate started on this data dir?)`,
      };
    }
    const max = Number.parseInt(p.key_mode, 8);
    if ((mode & ~max) !== 0)
      return {
        ok: false,
        reason: `the signing key ${key} has mode ${mode.toString(8).padStart(4, '0')}, more open than ${p.key_mode}`,
      };
    return {
      ok: true,
      reason: `chain on, checkpoints every ${formatSpan(a.chain.checkpointIntervalMs)}; key ${key} mode ${mode.toString(8).padStart(4, '0')}`,
    };
  },
  redaction(input, p) {
    const a = input.plan.audit;
    const headers = p.headers.filter((h) => !a.redactHeaders.has(h.toLowerCase()));
    const params = p.query_params.filter((q) => !a.redactQueryParams.has(q.toLowerCase()));
    if (headers.length + params.length > 0)
      return {
        ok: false,
        reason: `not redacted: ${[...headers.map((h) => `header ${h}`), ...params.map((q) => `query parameter ${q}`)].join(', ')} (audit.redact)`,
      };
    return {
      ok: true,
      reason: `headers ${p.headers.join(', ')} and query parameters ${p.query_params.join(', ')} are redacted`,
    };
  },
  off_machine(input, p) {
    const dests = input.plan.audit.sinks.flatMap((s) => {
      const d = sinkDestination(s.type, s.options);
      return d === null ? [] : [d];
    });
    if (dests.length === 0)
      return {
        ok: false,
        reason: 'no syslog, otlp or postgres sink: every copy of the trail is on this machine',
      };
    const away = dests.filter((d) => !LOOPBACK.test(d.host));
    if (away.length > 0) return { ok: true, reason: `ships to ${away.map((d) => d.text).join(', ')}` };
    if (p.allow_loopback)
      return {
        ok: true,
        reason: `ships to ${dests.map((d) => d.text).join(', ')} on this machine (a relay: the baseline allows loopback)`,
      };
    return {
      ok: false,
      reason: `every network sink is on this machine (${dests.map((d) => d.text).join(', ')})`,
    };
  },
  retention(input, p) {
    const min = parseDuration(p.min);
    const kept = input.plan.audit.retentionMs;
    if (kept === 0) return { ok: true, reason: 'records are never pruned (retention 0)' };
    if (kept < min)
      return {
        ok: false,
        reason: `audit.store.retention is ${formatSpan(kept)}, less than the ${formatSpan(min)} required`,
      };
    return { ok: true, reason: `records are kept ${formatSpan(kept)} (at least ${formatSpan(min)})` };
  },
  alerts(input, p) {
    const plan = input.plan.alerts;
    const missing: string[] = [];
    const silent: string[] = [];
    for (const kind of p.rules) {
      const rules = plan.rules.filter((r) => r.when === kind);
      if (rules.length === 0) missing.push(kind);
      else if (!rules.some((r) => r.notify.length > 0 || plan.notifiers.length > 0)) silent.push(kind);
    }
    if (missing.length + silent.length > 0)
      return {
        ok: false,
        reason: [
          missing.length > 0 ? `no alert rule for ${missing.join(', ')}` : '',
          silent.length > 0 ? `no notifier for ${silent.join(', ')}` : '',
        ]
          .filter((x) => x !== '')
          .join('; '),
      };
    return { ok: true, reason: `rules with a notifier for ${p.rules.join(', ')}` };
  },
  admin_transport(input) {
    const admin = input.plan.admin;
    if (admin === null) return { ok: true, reason: 'no admin API is configured' };
    if (admin.tls !== null)
      return { ok: true, reason: `the admin API on ${admin.host}:${admin.port} uses TLS` };
    if (LOOPBACK.test(admin.host))
      return { ok: true, reason: `the admin API listens on loopback only (${admin.host}:${admin.port})` };
    return {
      ok: false,
      reason: `the admin API listens on ${admin.host}:${admin.port} without TLS: tokens cross the network in clear`,
    };
  },
  token_lifetime(input, p) {
    const max = parseDuration(p.max);
    const live = input.tokens.filter(
      (t) => t.revokedAt === null && (t.expiresAt === null || t.expiresAt > input.now),
    );
    const long = live.filter((t) => t.expiresAt === null || t.expiresAt - t.createdAt > max);
    if (long.length > 0)
      return {
        ok: false,
        reason: `live admin tokens longer than ${formatSpan(max)}: ${long
          .map(
            (t) =>
              `${t.name} (${t.expiresAt === null ? 'never expires' : formatSpan(t.expiresAt - t.createdAt)})`,
          )
          .join(', ')}`,
      };
    return { ok: true, reason: `${live.length} live admin token(s), none longer than ${formatSpan(max)}` };
  },
  clock(input) {
    const c = input.clock;
    return { ok: c.synced === true, reason: c.detail };
  },
  verify(input, p) {
    const maxAge = parseDuration(p.max_age);
    const v = input.lastVerify;
    if (v === null) return { ok: false, reason: 'the chain has never been verified (run tollgate verify)' };
    const age = input.now - v.at;
    const when = `${formatSpan(Math.max(0, age))} ago by ${v.by}`;
    if (!v.ok) return { ok: false, reason: `the last verification failed (${when}): ${v.detail}` };
    if (age > maxAge)
      return { ok: false, reason: `the last verification was ${when}, more than ${formatSpan(maxAge)} ago` };
    return { ok: true, reason: `verified ${when}: ${v.detail}` };
  },
  canaries(input, p) {
    const window = formatSpan(parseDuration(p.window));
    if (input.plan.audit.canary === null) return { ok: false, reason: 'audit.canary is not configured' };
    let runs = input.canaries;
    if (runs.length === 0) return { ok: false, reason: `no canary ran in the last ${window}` };
    runs = [...runs].sort((a, b) => b.at - a.at);
    const failed = runs.filter((r) => !r.ok);
    if (failed.length > 0)
      return {
        ok: false,
        reason: `${failed.length} of ${runs.length} canaries failed in the last ${window}; the last: ${failed[0]!.reason ?? 'failed'}`,
      };
    return {
      ok: true,
      reason: `${runs.length === 1 ? 'the one canary' : `all ${runs.length} canaries`} of the last ${window} passed`,
    };
  },
};

/** Runs every check the baseline lists, in its order. */
export function review(input: ReviewInput, baseline: Baseline, baselineFile: string): ReviewReport {
  const checks: CheckResult[] = [];
  for (const [id, params] of Object.entries(baseline.checks) as [
    CheckId,
    { enabled: boolean; requirement: string } | undefined,
  ][]) {
    if (params === undefined) continue;
    if (!params.enabled) {
      checks.push({
        id,
        status: 'skipped',
        requirement: params.requirement,
        reason: 'enabled: false in the baseline',
      });
      continue;
    }
    let r: Outcome;
    try {
      r = (CHECKS[id] as Check)(input, params as never);
    } catch (err) {
      r = {
        ok: false,
        reason: `the check failed to run: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    checks.push({ id, status: r.ok ? 'pass' : 'fail', requirement: params.requirement, reason: r.reason });
  }
  return {
    schema: 'tollgate.review/1',
    at: new Date(input.now).toISOString(),
    baseline: { name: baseline.name, file: baselineFile },
    config: input.plan.source,
    passed: checks.filter((c) => c.status === 'pass').length,
    failed: checks.filter((c) => c.status === 'fail').length,
    checks,
  };
}

/** The report as text: one line per check, then the verdict. */
export function reviewText(r: ReviewReport): string {
  const lines = [`review of ${r.config} against ${r.baseline.name} (${r.baseline.file})`, ''];
  for (const c of r.checks) {
    lines.push(`${c.status.toUpperCase().padEnd(7)} ${c.id.padEnd(16)} ${c.reason}`);
    lines.push(`${''.padEnd(25)}serves ${c.requirement}`);
  }
  lines.push('', `${r.passed} passed, ${r.failed} failed, ${r.checks.length - r.passed - r.failed} skipped`);
  return `${lines.join('\n')}\n`;
}
