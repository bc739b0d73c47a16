/**
 * Problems: what `tollgate check` prints, one per line, as `FILE:LINE:COL path: message`
 * (SPEC §1 and §6). Validation and compilation first produce `Finding`s (a path into the config
 * tree and what is wrong); `load.ts` turns them into `Problem`s with 1-based source positions.
 */

/** One step into the config tree: a mapping key or a list index. */
export type PathKey = string | number;

export interface Problem {
  /** The config file as the user named it. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
  /** Like `pools[0].backends[1].weight`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * Where a finding points: `key` the key itself (unknown keys, duplicates), `value` the key's
 * value (a wrong value), `parent` the key of the enclosing mapping (a missing key).
 */
export type Anchor = 'key' | 'value' | 'parent';

export interface Finding {
  readonly path: readonly PathKey[];
  readonly at: Anchor;
  readonly message: string;
}

export function finding(path: readonly PathKey[], at: Anchor, message: string): Finding {
  return { path, at, message };
}

/** `['pools', 0, 'backends', 1, 'weight']` → `pools[0].backends[1].weight`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out;
}

/** `FILE:LINE:COL path: message`, or `FILE:LINE:COL: message` when the problem has no path. */
export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  return p.path === '' ? `${where}: ${p.message}` : `${where} ${p.path}: ${p.message}`;
}

/** A value as a message shows it: strings quoted, lists and mappings named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** `['a', 'b', 'c']` → `a, b, c`. */
export function listNames(names: readonly unknown[]): string {
  return names.map((n) => String(n)).join(', ');
}
