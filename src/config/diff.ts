import { isDeepStrictEqual } from 'node:util';

/**
 * Before/after differences between two configs as plain data, for admin events
 * (`tollgate.diff`). Lists of named items (listeners, routes, pools, backends, …) are matched
 * by name, so inserting a backend reads as one addition rather than a shift of every index;
 * their paths name the item: `pools["api"].backends["api-2"].weight`. A change of order in
 * such a list (which matters for routes: first match wins) is reported as `reordered`.
 */
export interface ConfigChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed' | 'reordered';
  /** Undefined when added. */
  readonly before: unknown;
  /** Undefined when removed. */
  readonly after: unknown;
}

export function diffConfig(before: unknown, after: unknown): ConfigChange[] {
  const out: ConfigChange[] = [];
  walk(before, after, '', out);
  return out;
}

type Obj = Record<string, unknown>;

function walk(a: unknown, b: unknown, path: string, out: ConfigChange[]): void {
  if (isDeepStrictEqual(a, b)) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    const namesA = names(a);
    const namesB = names(b);
    if (namesA !== null && namesB !== null) walkNamed(a as Obj[], b as Obj[], namesA, namesB, path, out);
    else if (a.every(isPlain) || b.every(isPlain)) out.push({ path, kind: 'changed', before: a, after: b });
    else for (let i = 0; i < Math.max(a.length, b.length); i++) step(a, b, i, `${path}[${i}]`, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) step(a, b, key, join(path, key), out);
    return;
  }
  out.push({ path, kind: 'changed', before: a, after: b });
}

function step(
  a: Obj | unknown[],
  b: Obj | unknown[],
  key: string | number,
  path: string,
  out: ConfigChange[],
): void {
  const inA = Object.hasOwn(a, key);
  const inB = Object.hasOwn(b, key);
  const va = (a as Obj)[key];
  const vb = (b as Obj)[key];
  if (inA && !inB) out.push({ path, kind: 'removed', before: va, after: undefined });
  else if (!inA && inB) out.push({ path, kind: 'added', before: undefined, after: vb });
  else walk(va, vb, path, out);
}

function walkNamed(
  a: Obj[],
  b: Obj[],
  namesA: string[],
  namesB: string[],
  path: string,
  out: ConfigChange[],
): void {
  const byName = new Map(b.map((item, i) => [namesB[i]!, item]));
  const common: string[] = [];
  a.forEach((item, i) => {
    const name = namesA[i]!;
    const itemPath = `${path}[${JSON.stringify(name)}]`;
    const other = byName.get(name);
    if (other === undefined) out.push({ path: itemPath, kind: 'removed', before: item, after: undefined });
    else {
      common.push(name);
      walk(item, other, itemPath, out);
    }
  });
  const inA = new Set(namesA);
  b.forEach((item, i) => {
    const name = namesB[i]!;
    if (!inA.has(name))
      out.push({ path: `${path}[${JSON.stringify(name)}]`, kind: 'added', before: undefined, after: item });
  });
  const commonInB = namesB.filter((n) => inA.has(n));
  if (!isDeepStrictEqual(common, commonInB))
    out.push({ path, kind: 'reordered', before: namesA, after: namesB });
}

/** The names of a list whose items are all mappings with distinct string names; else null. */
function names(list: unknown[]): string[] | null {
  if (list.length === 0) return [];
  const result: string[] = [];
  for (const item of list) {
    if (!isObject(item) || typeof item.name !== 'string') return null;
    result.push(item.name);
  }
  return new Set(result).size === result.length ? result : null;
}

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isPlain(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
