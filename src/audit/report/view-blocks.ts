import type { Durations } from './types.js';

/**
 * The report as sections of plain text and tables, the one layout both the Markdown and the
 * HTML renderer draw. Every string here is plain text (values from the store included): the
 * renderers escape all of it, so nothing a client sent can become markup.
 */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'heading'; text: string }
  | { kind: 'table'; head: string[]; right: boolean[]; rows: string[][]; marked: boolean[] };

export interface Section {
  title: string;
  blocks: Block[];
}

export interface ReportView {
  title: string;
  summary: string[];
  sections: Section[];
}

/** Characters per table cell in Markdown and HTML (JSON keeps whole values). */
const MAX_CELL = 160;
/** Error groups drawn in Markdown and HTML (JSON has them all). */
export const MAX_ERROR_ROWS = 25;

export const count = (n: number): string => n.toLocaleString('en-US');

export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
export const time = (iso: string | null): string =>
  iso === null ? '-' : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
export const name = (v: string | null, none = '-'): string => (v === null ? none : v);
export const clip = (v: string): string => (v.length > MAX_CELL ? `${v.slice(0, MAX_CELL - 1)}…` : v);
export const durations = (d: Durations): string =>
  `p50 ${ms(d.p50_ms)} ms, p99 ${ms(d.p99_ms)} ms, max ${ms(d.max_ms)} ms`;

export function table(head: string[], rows: string[][], right: number[] = [], marked: boolean[] = []): Block {
  return {
    kind: 'table',
    head,
    right: head.map((_, i) => right.includes(i)),
    rows: rows.map((r) => r.map(clip)),
    marked: rows.map((_, i) => marked[i] ?? false),
  };
}

export const text = (t: string): Block => ({ kind: 'text', text: t });
export const heading = (t: string): Block => ({ kind: 'heading', text: t });
export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i);
