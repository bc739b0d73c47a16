/** Numbers and times as a person reads them. */

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function fmtRate(perSec: number): string {
  if (perSec === 0) return '0/s';
  if (perSec < 1) return `${perSec.toFixed(2)}/s`;
  if (perSec < 100) return `${perSec.toFixed(1)}/s`;
  return `${Math.round(perSec).toLocaleString('en')}/s`;
}

export function fmtPct(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '–';
  if (ratio === 0) return '0%';
  const p = ratio * 100;
  return p < 0.1 ? '<0.1%' : p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function fmtCount(n: number): string {
  return n.toLocaleString('en');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local time of day, with milliseconds when asked. */
export function fmtTime(iso: string | number, millis = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const base = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

export function fmtDateTime(iso: string | number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(iso)}`;
}

export function fmtAgo(iso: string | number, now = Date.now()): string {
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 2) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** A value from a diff or labels, short and readable: strings bare, the rest as JSON. */
export function fmtValue(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function statusClass(status: number): string {
  if (status >= 500) return 's5';
  if (status >= 400) return 's4';
  if (status >= 300) return 's3';
  if (status >= 200) return 's2';
  return 's0';
}

/** Epoch ms of an ISO 8601 time, keeping its microseconds (Date.parse drops them). */
export function isoMs(iso: string): number {
  const m = /\.(\d+)Z$/.exec(iso);
  if (m === null) return Date.parse(iso);
  const whole = Date.parse(`${iso.slice(0, m.index)}Z`);
  return whole + Number(`0.${m[1]}`) * 1000;
}
