/**
 * Micro-benchmark of the top-clients sketch (not a test):
 *   node --import tsx scripts/bench-topk.ts [N] [ROUNDS]
 * Times N (default 1,000,000) calls of a bare SpaceSaving(256).observe and of TopClients.observe
 * (default options: 10 s buckets, k = 256, the system clock), given the time or reading the clock
 * itself, on three key streams made beforehand:
 * - zipf: Zipf (s = 1.1) over 100,000 addresses, most requests hit a held counter;
 * - uniform: N distinct addresses, every request evicts the smallest counter;
 * - mixed: 70% of the zipf stream and 30% of the uniform one.
 * Prints the median ns/observe of ROUNDS (default 5) runs, each on a fresh instance, and what one
 * read of the system clock costs. The machine is noisy: compare columns of one run.
 */
import { systemClock } from '../src/core/index.js';
import { SpaceSaving, TopClients } from '../src/metrics/index.js';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);
if (!Number.isInteger(N) || N < 1000)
  throw new Error(`N must be an integer of at least 1000, not ${process.argv[2]}`);

// A small deterministic PRNG (mulberry32), so runs are comparable.
let state = 0x70b;
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function address(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

const ZIPF_KEYS = 100_000;
const cdf = new Float64Array(ZIPF_KEYS);
let sum = 0;
for (let i = 0; i < ZIPF_KEYS; i++) cdf[i] = sum += 1 / (i + 1) ** 1.1;
const zipfPool = Array.from({ length: ZIPF_KEYS }, (_, i) => address(i));
function zipfKey(): string {
  const u = random() * sum;
  let lo = 0;
  let hi = ZIPF_KEYS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return zipfPool[lo]!;
}
// Distinct from the zipf pool: 10.x.y.z with x ≥ 2 (ZIPF_KEYS < 2^17).
const uniformPool = Array.from({ length: N }, (_, i) => address(ZIPF_KEYS * 2 + i));

const streams: Record<string, string[]> = {
  zipf: Array.from({ length: N }, zipfKey),
  uniform: uniformPool,
  mixed: Array.from({ length: N }, (_, i) => (random() < 0.7 ? zipfKey() : uniformPool[i]!)),
};
const isError = Array.from({ length: N }, () => random() < 0.05);
const bytes = Float64Array.from({ length: N }, () => Math.floor(random() * 20_000));

function timeTopClients(keys: string[], passTime: boolean): number {
  const topClients = new TopClients({ clock: systemClock });
  const t0 = systemClock.monotonic();
  const start = process.hrtime.bigint();
  if (passTime)
    // 1,000 requests a millisecond: 1M cross ~100 buckets, as with the clock at that rate.
    for (let i = 0; i < keys.length; i++) topClients.observe(keys[i]!, isError[i]!, bytes[i]!, t0 + i / 1000);
  else for (let i = 0; i < keys.length; i++) topClients.observe(keys[i]!, isError[i]!, bytes[i]!);
  return Number(process.hrtime.bigint() - start) / keys.length;
}

function timeSpaceSaving(keys: string[]): number {
  const sketch = new SpaceSaving(256);
  const start = process.hrtime.bigint();
  for (let i = 0; i < keys.length; i++) sketch.observe(keys[i]!, 1, isError[i]! ? 1 : 0, bytes[i]!);
  return Number(process.hrtime.bigint() - start) / keys.length;
}

function timeClock(): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += systemClock.monotonic();
  const ns = Number(process.hrtime.bigint() - start) / N;
  return sink > 0 ? ns : ns;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

const fmt = (v: number[]) =>
  `${median(v).toFixed(0).padStart(4)} (${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)})`.padEnd(
    16,
  );

console.log(`node ${process.version}, N = ${N}, ${ROUNDS} rounds, median (min–max) ns/observe`);
console.log('stream   | SpaceSaving(256) | TopClients, time given | TopClients, reads clock');
for (const [name, keys] of Object.entries(streams)) {
  for (const key of keys) key.charCodeAt(0); // flattens cons strings now, not in the first timed round
  const ss: number[] = [];
  const given: number[] = [];
  const clock: number[] = [];
  for (let r = -1; r < ROUNDS; r++) {
    // round −1 warms the JIT up
    const a = timeSpaceSaving(keys);
    const b = timeTopClients(keys, true);
    const c = timeTopClients(keys, false);
    if (r < 0) continue;
    ss.push(a);
    given.push(b);
    clock.push(c);
  }
  console.log(`${name.padEnd(8)} | ${fmt(ss)} | ${fmt(given).padEnd(22)} | ${fmt(clock)}`);
}
const clockNs = Array.from({ length: ROUNDS }, timeClock);
console.log(`systemClock.monotonic() alone (performance.now): ${fmt(clockNs).trim()} ns`);
