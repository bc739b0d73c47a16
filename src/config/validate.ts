import { parseDuration, parsePercent, parseRate } from '../core/index.js';
import { addressesOverlap, type HostPort, parseAddress } from './address.js';
import { humanErrors, issueFindings } from './issues.js';
import type { Finding, PathKey } from './problem.js';
import { describeValue, finding, listNames } from './problem.js';
import { type Config, configSchema } from './schema.js';

/**
 * Schema, then the checks one key cannot make alone: duplicate names, references between
 * routes, pools, notifiers and rules, hash_key for consistent_hash, colliding addresses.
 * The cross-checks read the raw data defensively so that they run (and report) even when the
 * schema found problems elsewhere: one `check` shows everything that is wrong.
 */
export interface Validation {
  /** The config with defaults applied; null when anything is wrong. */
  readonly config: Config | null;
  readonly findings: readonly Finding[];
}

export function validateConfig(data: unknown): Validation {
  const result = configSchema.safeParse(data, { error: humanErrors, reportInput: true });
  const findings = result.success ? [] : result.error.issues.flatMap((issue) => issueFindings(issue, data));
  const root = asObject(data);
  if (root !== null) findings.push(...crossCheck(root));
  return { config: result.success && findings.length === 0 ? result.data : null, findings: unique(findings) };
}

type Obj = Record<string, unknown>;
type Entry = readonly [index: number, item: Obj];

function asObject(value: unknown): Obj | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : null;
}

/** The mappings of a list, with their indexes (anything that is not a mapping is skipped). */
function entries(parent: Obj | null, key: string): Entry[] {
  const list = parent?.[key];
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i): Entry[] => {
    const obj = asObject(item);
    return obj === null ? [] : [[i, obj]];
  });
}

function text(obj: Obj | null, key: string): string | undefined {
  const value = obj?.[key];
  return typeof value === 'string' ? value : undefined;
}

function crossCheck(root: Obj): Finding[] {
  const out: Finding[] = [];
  const pools = entries(root, 'pools');
  const alerts = asObject(root.alerts);
  const poolNames = uniqueNames(['pools'], 'pool', pools, out);
  const routeNames = uniqueNames(['routes'], 'route', entries(root, 'routes'), out);
  const listenerNames = uniqueNames(['listeners'], 'listener', entries(root, 'listeners'), out);
  const canary = asObject(asObject(root.audit)?.canary);
  reference(['audit', 'canary', 'listener'], 'listener', text(canary, 'listener'), listenerNames, out);
  const notifierNames = uniqueNames(['alerts', 'notifiers'], 'notifier', entries(alerts, 'notifiers'), out);
  uniqueNames(['alerts', 'rules'], 'rule', entries(alerts, 'rules'), out);

  for (const [i, pool] of pools) {
    uniqueNames(['pools', i, 'backends'], 'backend', entries(pool, 'backends'), out);
    if (pool.algorithm === 'consistent_hash' && pool.hash_key === undefined) {
      out.push(
        finding(
          ['pools', i, 'hash_key'],
          'parent',
          'missing required key "hash_key" (consistent_hash needs client_ip, header:NAME or cookie:NAME)',
        ),
      );
    }
  }
  const clientCaListeners = entries(root, 'listeners').filter(
    ([, l]) => asObject(l.tls)?.client_ca !== undefined,
  ).length;
  for (const [i, route] of entries(root, 'routes')) {
    reference(['routes', i, 'pool'], 'pool', text(route, 'pool'), poolNames, out);
    const auth = asObject(route.auth);
    if (auth?.type === 'jwt' && (auth.jwks_file === undefined) === (auth.jwks_url === undefined)) {
      out.push(finding(['routes', i, 'auth'], 'key', 'jwt auth needs exactly one of jwks_file or jwks_url'));
    }
    if (auth?.type === 'mtls' && clientCaListeners === 0) {
      out.push(
        finding(
          ['routes', i, 'auth', 'type'],
          'value',
          'mtls auth needs a listener that asks for client certificates, and no listener has tls.client_ca',
        ),
      );
    }
  }
  for (const [i, rule] of entries(alerts, 'rules')) {
    reference(['alerts', 'rules', i, 'route'], 'route', text(rule, 'route'), routeNames, out);
    reference(['alerts', 'rules', i, 'pool'], 'pool', text(rule, 'pool'), poolNames, out);
    const notify = Array.isArray(rule.notify) ? rule.notify : [];
    notify.forEach((n, j) => {
      reference(
        ['alerts', 'rules', i, 'notify', j],
        'notifier',
        typeof n === 'string' ? n : undefined,
        notifierNames,
        out,
      );
    });
    checkThreshold(['alerts', 'rules', i], rule, out);
  }
  if (root.fleet !== undefined && root.workers !== undefined && root.workers !== 1) {
    out.push(
      finding(
        ['workers'],
        'value',
        'fleet mode runs one process per instance: set workers: 1 (and run more instances instead)',
      ),
    );
  }
  checkAddresses(root, out);
  return out;
}

/** Names of a list's items; a name seen before is a finding. */
function uniqueNames(path: readonly PathKey[], what: string, items: Entry[], out: Finding[]): string[] {
  const first = new Map<string, number>();
  for (const [i, item] of items) {
    const name = text(item, 'name');
    if (name === undefined) continue;
    const seen = first.get(name);
    if (seen === undefined) first.set(name, i);
    else
      out.push(
        finding(
          [...path, i, 'name'],
          'value',
          `duplicate ${what} name "${name}" (already used by ${formatIndex(path, seen)})`,
        ),
      );
  }
  return [...first.keys()];
}

function formatIndex(path: readonly PathKey[], index: number): string {
  return `${String(path[path.length - 1])}[${index}]`;
}

function reference(
  path: PathKey[],
  what: string,
  name: string | undefined,
  defined: string[],
  out: Finding[],
): void {
  if (name === undefined || defined.includes(name)) return;
  const known = defined.length === 0 ? `no ${what}s are defined` : `defined ${what}s: ${listNames(defined)}`;
  out.push(finding(path, 'value', `${what} "${name}" is not defined (${known})`));
}

const THRESHOLDS: Record<string, { parse: (text: string) => number; expected: string }> = {
  error_rate: { parse: parsePercent, expected: 'a percentage like 5%' },
  client_rate: { parse: parseRate, expected: 'a rate like 200/s' },
  auth_failures: { parse: parseRate, expected: 'a rate like 10/m' },
  latency_p99: { parse: parseDuration, expected: 'a duration like 500ms' },
  audit_lag: { parse: parseDuration, expected: 'a duration like 5s' },
};

function checkThreshold(path: PathKey[], rule: Obj, out: Finding[]): void {
  const threshold = typeof rule.when === 'string' ? THRESHOLDS[rule.when] : undefined;
  if (threshold === undefined) return;
  const above = rule.above;
  if (above === undefined) {
    out.push(
      finding(
        [...path, 'above'],
        'parent',
        `missing required key "above" (${rule.when} needs ${threshold.expected})`,
      ),
    );
    return;
  }
  try {
    threshold.parse(String(above));
  } catch {
    out.push(
      finding(
        [...path, 'above'],
        'value',
        `${rule.when} needs ${threshold.expected}, got ${describeValue(above)}`,
      ),
    );
  }
}

/** Two listeners, or a listener and the admin API, may not listen on the same address. */
function checkAddresses(root: Obj, out: Finding[]): void {
  const taken: { at: HostPort; owner: string }[] = [];
  const claim = (path: PathKey[], text: string | undefined, owner: string, at: 'value' | 'parent') => {
    const parsed = text === undefined ? undefined : parseAddress(text, true);
    if (parsed === undefined || typeof parsed === 'string') return;
    const clash = taken.find((t) => addressesOverlap(t.at, parsed));
    if (clash === undefined) taken.push({ at: parsed, owner });
    else out.push(finding(path, at, `address ${text} is already used by ${clash.owner}`));
  };
  for (const [i, listener] of entries(root, 'listeners')) {
    claim(
      ['listeners', i, 'address'],
      text(listener, 'address'),
      `listener "${text(listener, 'name') ?? i}"`,
      'value',
    );
  }
  const admin = asObject(root.admin);
  if (admin !== null) {
    const explicit = text(admin, 'address');
    claim(
      ['admin', 'address'],
      explicit ?? '127.0.0.1:9090',
      'the admin API',
      explicit === undefined ? 'parent' : 'value',
    );
  }
}

function unique(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.path.join('\u0000')}\u0001${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
