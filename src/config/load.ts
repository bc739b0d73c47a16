import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Anchor, Finding, PathKey, Problem } from './problem.js';
import { formatPath } from './problem.js';

/** Where a path's key and value start in the text (offsets). */
interface Step {
  readonly key: number;
  readonly value: number;
}

/**
 * A config text parsed as YAML, keeping the source positions so every finding can be reported
 * at its line and column. YAML syntax errors are problems of their own; when there are any,
 * `data` is null and nothing else should be checked.
 */
export class ConfigSource {
  readonly file: string;
  readonly text: string;
  /** The document as plain data; null when the text has syntax errors (or is empty). */
  readonly data: unknown;
  readonly syntaxProblems: readonly Problem[];
  readonly #doc: Document;
  readonly #lines: LineCounter;

  constructor(text: string, file: string) {
    this.file = file;
    this.text = text;
    this.#lines = new LineCounter();
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, merge: true });
    const problems: Problem[] = this.#doc.errors.map((e) =>
      this.#at(e.pos[0], '', `YAML syntax error: ${lowerFirst(e.message)}`),
    );
    let data: unknown = null;
    if (problems.length === 0) {
      try {
        data = this.#doc.toJS({ maxAliasCount: 100 });
      } catch (err) {
        problems.push(
          this.#at(0, '', `YAML error: ${err instanceof Error ? lowerFirst(err.message) : String(err)}`),
        );
      }
    }
    this.data = problems.length === 0 ? data : null;
    this.syntaxProblems = problems;
  }

  /** The problem a finding describes, at its position in the text. */
  problem(f: Finding): Problem {
    return this.#at(this.offsetOf(f.path, f.at), formatPath(f.path), f.message);
  }

  /** Offset of the key (or value) a path names; falls back to the deepest part of it that exists. */
  offsetOf(path: readonly PathKey[], at: Anchor): number {
    if (at === 'parent') return path.length === 0 ? this.#start() : this.offsetOf(path.slice(0, -1), 'key');
    const steps = this.#walk(path);
    const last = steps[steps.length - 1];
    if (last === undefined) return this.#start();
    return at === 'value' && steps.length === path.length ? last.value : last.key;
  }

  #walk(path: readonly PathKey[]): Step[] {
    const steps: Step[] = [];
    let node: unknown = this.#doc.contents;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.#doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        const keyStart = pair !== undefined && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        if (pair === undefined || keyStart === undefined) break;
        steps.push({ key: keyStart, value: valueStart(pair.value) ?? keyStart });
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        const start = valueStart(item);
        if (start === undefined) break;
        steps.push({ key: start, value: start });
        node = item;
      } else {
        break;
      }
    }
    return steps;
  }

  #start(): number {
    return valueStart(this.#doc.contents) ?? 0;
  }

  #at(offset: number, path: string, message: string): Problem {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.file, line, col, path, message };
  }
}

/** Start offset of a node's value; undefined for an absent or empty (`key:`) value. */
function valueStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: [number, number, number] | null }).range;
  if (range === undefined || range === null) return undefined;
  if (isScalar(node) && node.value === null && range[0] === range[1]) return undefined;
  return range[0];
}

function lowerFirst(text: string): string {
  const first = text.split('\n', 1)[0] ?? '';
  return /^[A-Z][a-z]/.test(first) ? first[0]!.toLowerCase() + first.slice(1) : first;
}
