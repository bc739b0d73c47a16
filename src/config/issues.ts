import type { z } from 'zod';
import type { Finding, PathKey } from './problem.js';
import { describeValue, finding, listNames } from './problem.js';

/**
 * zod issues → findings a person can act on. `humanErrors` is passed to `safeParse` as the
 * per-parse error map, so messages set in the schema itself win and everything else reads as
 * "expected a number, got "abc"" rather than zod's defaults.
 */

type Issue = z.core.$ZodIssue;

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

export const humanErrors: z.core.$ZodErrorMap = (iss) => {
  const got = describeValue(iss.input);
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${got}`;
    case 'too_small':
      return bound(iss.origin, 'least', Number(iss.minimum), iss.inclusive !== false);
    case 'too_big':
      return bound(iss.origin, 'most', Number(iss.maximum), iss.inclusive !== false);
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${describeValue(iss.values[0])}, got ${got}`
        : `expected one of ${listNames(iss.values)}, got ${got}`;
    case 'invalid_format':
      if (iss.format === 'url') return `expected a URL, got ${got}`;
      return `${got} is not in the expected form`;
    case 'invalid_union':
      return `${got} matches none of the accepted forms`;
    default:
      return `${got} is not allowed here`;
  }
};

function bound(origin: string, side: 'least' | 'most', n: number, inclusive: boolean): string {
  if (origin === 'array' || origin === 'set') return `needs at ${side} ${n} item${n === 1 ? '' : 's'}`;
  if (origin === 'string') {
    return side === 'least' && n === 1 ? 'may not be empty' : `must be at ${side} ${n} characters long`;
  }
  if (!inclusive) return `must be ${side === 'least' ? 'more' : 'less'} than ${n}`;
  return `must be at ${side} ${n}`;
}

/** One zod issue as findings (an issue naming several unknown keys gives one finding each). */
export function issueFindings(issue: Issue, data: unknown): Finding[] {
  const path = issue.path.map(toPathKey);
  const last = path[path.length - 1];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => finding([...path, key], 'key', `unknown key ${JSON.stringify(key)}`));
    case 'invalid_type':
      if (issue.input === undefined && !hasValueAt(data, path)) {
        return [finding(path, 'parent', `missing required key ${JSON.stringify(String(last))}`)];
      }
      break;
    case 'invalid_union':
      if (issue.discriminator !== undefined) {
        const options = listNames('options' in issue ? (issue.options ?? []) : []);
        const value = valueAt(data, path);
        return value === undefined
          ? [finding(path, 'parent', `missing required key "${issue.discriminator}" (one of ${options})`)]
          : [
              finding(
                path,
                'value',
                `unknown ${issue.discriminator} ${describeValue(value)} (expected one of ${options})`,
              ),
            ];
      }
      break;
  }
  return [finding(path, 'value', issue.message)];
}

function toPathKey(key: PropertyKey): PathKey {
  return typeof key === 'number' ? key : String(key);
}

/** The plain value at a path, or undefined when the path does not exist. */
export function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PathKey, unknown>)[key];
  }
  return node;
}

function hasValueAt(data: unknown, path: readonly PathKey[]): boolean {
  const parent = valueAt(data, path.slice(0, -1));
  const key = path[path.length - 1];
  return key !== undefined && parent !== null && typeof parent === 'object' && Object.hasOwn(parent, key);
}
