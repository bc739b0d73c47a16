import { parse, stringify } from 'yaml';
import { ErrorCode, TollgateError } from '../core/index.js';

/**
 * Which parts of the config the fleet shares through etcd and which stay in each instance's own
 * file. What traffic goes where and how it is recorded is shared; where this instance listens,
 * keeps its data and finds the fleet is its own (three instances on one host need three ports).
 */
export const SHARED_KEYS = ['routes', 'pools', 'audit', 'alerts'] as const;
export const LOCAL_KEYS = ['data_dir', 'workers', 'listeners', 'admin', 'fleet'] as const;
const ORDER = ['data_dir', 'workers', 'listeners', 'routes', 'pools', 'audit', 'admin', 'alerts', 'fleet'];

export type SharedPart = Record<string, unknown>;

/** What etcd holds under `<prefix>config`: the shared part and who wrote it. */
export interface SharedDocument {
  shared: SharedPart;
  actor: string;
  instance: string;
  at: string;
}

function mapping(text: string, what: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new TollgateError(ErrorCode.CONFIG_INVALID, `${what} is not YAML: ${(err as Error).message}`, {
      source: 'config',
    });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new TollgateError(ErrorCode.CONFIG_INVALID, `${what} is not a mapping`, { source: 'config' });
  return data as Record<string, unknown>;
}

/** The shared keys of a config text. */
export function sharedPart(text: string): SharedPart {
  const data = mapping(text, 'the config');
  const out: SharedPart = {};
  for (const k of SHARED_KEYS) if (data[k] !== undefined) out[k] = data[k];
  return out;
}

/** This instance's file with its shared keys replaced by the fleet's: the text the instance compiles. */
export function composeText(localText: string, shared: SharedPart): string {
  const local = mapping(localText, 'the local config file');
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(local))
    if (!(SHARED_KEYS as readonly string[]).includes(k)) merged[k] = v;
  for (const k of SHARED_KEYS) if (shared[k] !== undefined) merged[k] = shared[k];
  const ordered: Record<string, unknown> = {};
  for (const k of ORDER) if (k in merged) ordered[k] = merged[k];
  for (const [k, v] of Object.entries(merged)) if (!(k in ordered)) ordered[k] = v;
  return `# fleet config: ${SHARED_KEYS.join(', ')} come from etcd; the rest from this instance's file\n${stringify(ordered)}`;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** The instance-local keys a new config text changes compared with the running one (none: []). */
export function changedLocalKeys(runningText: string, nextText: string): string[] {
  const a = mapping(runningText, 'the running config');
  const b = mapping(nextText, 'the new config');
  return LOCAL_KEYS.filter((k) => canonical(a[k]) !== canonical(b[k]));
}
