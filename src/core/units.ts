/**
 * Parsers for the config file's units: durations ("500ms", "2s", "5m", "1h", "30d"),
 * sizes ("64kb", "1mb"), rates ("100/s", "10/m") and percentages ("5%").
 * Each returns a finite number ≥ 0 or throws a RangeError whose message names the accepted forms
 * (a number too large to be exact, like 99999999999999999999d, is refused: as a timeout it would
 * overflow node's timers and fire at once).
 */

function finite(value: number, text: string, what: string): number {
  if (!Number.isSafeInteger(Math.round(value)))
    throw new RangeError(`"${text}" is not ${what}: the number is too large`);
  return value;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (m === null)
    throw new RangeError(`"${text}" is not a duration: use a number and ms, s, m, h or d, like 500ms or 2s`);
  return finite(Math.round(Number(m[1]) * DURATION_MS[m[2]!]!), text, 'a duration');
}

const SIZE = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)?$/i;
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Bytes. */
export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (m === null)
    throw new RangeError(`"${text}" is not a size: use a number and b, kb, mb or gb, like 64kb`);
  return finite(Math.round(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]!), text, 'a size');
}

const RATE = /^(\d+(?:\.\d+)?)\/(s|m|h)$/;
const RATE_PER_S: Record<string, number> = { s: 1, m: 1 / 60, h: 1 / 3600 };

/** Events per second. */
export function parseRate(text: string): number {
  const m = RATE.exec(text.trim());
  if (m === null)
    throw new RangeError(`"${text}" is not a rate: use a number, a slash and s, m or h, like 100/s`);
  return finite(Number(m[1]) * RATE_PER_S[m[2]!]!, text, 'a rate');
}

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/** A fraction: "5%" → 0.05. */
export function parsePercent(text: string): number {
  const m = PERCENT.exec(text.trim());
  if (m === null) throw new RangeError(`"${text}" is not a percentage: use a number and %, like 5%`);
  return finite(Number(m[1]) / 100, text, 'a percentage');
}

/** "1500" → "1.5s"-style text for messages: the most readable unit. */
/** A long span for people: "400 days", "24 hours", "90 minutes"; short ones as formatDuration. */
export function formatSpan(ms: number): string {
  const unit = (size: number, name: string) => {
    const n = ms / size;
    return `${Number.isInteger(n) ? n : n.toFixed(1)} ${name}`;
  };
  if (ms >= 2 * 86_400_000) return unit(86_400_000, 'days');
  if (ms >= 2 * 3_600_000) return unit(3_600_000, 'hours');
  if (ms >= 2 * 60_000) return unit(60_000, 'minutes');
  return formatDuration(ms);
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

const SETTING_UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/**
 * Whole milliseconds as the config writes them, in the largest unit that holds them exactly:
 * 1500 → "1500ms", 60000 → "1m", 0 → "0ms". `parseDuration` reads it back to the same number.
 */
export function formatDurationSetting(ms: number): string {
  const whole = Math.round(ms);
  if (whole > 0)
    for (const [unit, size] of SETTING_UNITS) if (whole % size === 0) return `${whole / size}${unit}`;
  return `${whole}ms`;
}

/** Bytes as the config writes them: 16384 → "16kb", 1500 → "1500b". `parseSize` reads it back. */
export function formatSizeSetting(bytes: number): string {
  const whole = Math.round(bytes);
  if (whole > 0)
    for (const [unit, size] of [
      ['gb', 1024 ** 3],
      ['mb', 1024 ** 2],
      ['kb', 1024],
    ] as const)
      if (whole % size === 0) return `${whole / size}${unit}`;
  return `${whole}b`;
}
