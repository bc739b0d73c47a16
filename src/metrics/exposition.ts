/**
 * A small Prometheus text-format registry (exposition format 0.0.4) whose series are bound once
 * and then updated with a plain field increment: no label hashing, no string building, no
 * allocation per request. prom-client hashes the label values on every `inc()`, which is the
 * per-request label building DESIGN rule 3 forbids (docs/adr/0004-metrics-exposition.md).
 */

export type Labels = readonly string[];

/** `{a="x",b="y"}` with the format's escaping (backslash, double quote, newline). */
export function labelText(names: Labels, values: Labels): string {
  if (names.length === 0) return '';
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    const v = (values[i] ?? '').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    out += `${names[i]}="${v}"`;
  }
  return `${out}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export class CounterSeries {
  value = 0;
  readonly labels: string;
  constructor(labels: string) {
    this.labels = labels;
  }
}

export class HistogramSeries {
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly labels: Labels;
  readonly #bounds: readonly number[];

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

interface Family {
  readonly name: string;
  render(out: string[]): void;
}

function header(out: string[], name: string, help: string, type: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
}

export class CounterFamily implements Family {
  readonly name: string;
  readonly #help: string;
  readonly #labelNames: Labels;
  readonly #series = new Map<string, CounterSeries>();

  constructor(name: string, help: string, labelNames: Labels) {
    this.name = name;
    this.#help = help;
    this.#labelNames = labelNames;
  }

  /** The series for these label values, created on first use; keep it and increment `.value`. */
  bind(values: Labels): CounterSeries {
    const text = labelText(this.#labelNames, values);
    let s = this.#series.get(text);
    if (s === undefined) {
      s = new CounterSeries(text);
      this.#series.set(text, s);
    }
    return s;
  }

  render(out: string[]): void {
    header(out, this.name, this.#help, 'counter');
    for (const s of this.#series.values()) out.push(`${this.name}${s.labels} ${num(s.value)}`);
  }
}

export class HistogramFamily implements Family {
  readonly name: string;
  readonly #help: string;
  readonly #labelNames: Labels;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, labelNames: Labels, bounds: readonly number[]) {
    this.name = name;
    this.#help = help;
    this.#labelNames = labelNames;
    this.#bounds = bounds;
  }

  bind(values: Labels): HistogramSeries {
    const key = labelText(this.#labelNames, values);
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(values, this.#bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  render(out: string[]): void {
    header(out, this.name, this.#help, 'histogram');
    const names = [...this.#labelNames, 'le'];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.#bounds.length ? num(this.#bounds[i]!) : '+Inf';
        out.push(`${this.name}_bucket${labelText(names, [...s.labels, le])} ${cumulative}`);
      }
      const base = labelText(this.#labelNames, s.labels);
      out.push(`${this.name}_sum${base} ${num(s.sum)}`, `${this.name}_count${base} ${s.count}`);
    }
  }
}

/**
 * A family whose samples are read at scrape time: a gauge (backend state, queue depth, …) or a
 * counter kept elsewhere by a monotonic source (records committed, …).
 */
export class CollectedFamily implements Family {
  readonly name: string;
  readonly #help: string;
  readonly #type: 'gauge' | 'counter';
  readonly #labelNames: Labels;
  readonly #collect: () => Iterable<readonly [Labels, number]>;

  constructor(
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: Labels,
    collect: () => Iterable<readonly [Labels, number]>,
  ) {
    this.name = name;
    this.#type = type;
    this.#help = help;
    this.#labelNames = labelNames;
    this.#collect = collect;
  }

  render(out: string[]): void {
    header(out, this.name, this.#help, this.#type);
    for (const [values, v] of this.#collect())
      out.push(`${this.name}${labelText(this.#labelNames, values)} ${num(v)}`);
  }
}

export class Registry {
  readonly #families: Family[] = [];

  add<F extends Family>(f: F): F {
    if (this.#families.some((x) => x.name === f.name))
      throw new Error(`metric ${f.name} is registered twice`);
    this.#families.push(f);
    return f;
  }

  /** The whole exposition, `text/plain; version=0.0.4`. */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families) f.render(out);
    return `${out.join('\n')}\n`;
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
