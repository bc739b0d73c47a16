/**
 * Self time by function of V8 CPU profiles (`node --cpu-prof`, one file per thread), the top N:
 *
 *   node --import tsx scripts/cpu-profile-top.ts [--top 30] [--by function|file] FILE.cpuprofile...
 *
 * Several files are summed (the same thread of several runs); each line is the self time in ms,
 * its share of the profile's samples (idle excluded), and `function file:line`. `--by file`
 * sums per script instead (node:internal/…, undici, better-sqlite3, src/…).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
let top = 30;
let by: 'function' | 'file' = 'function';
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--top') top = Number(args[++i]);
  else if (a === '--by') by = args[++i] === 'file' ? 'file' : 'function';
  else files.push(a);
}
if (files.length === 0) {
  process.stderr.write('usage: cpu-profile-top.ts [--top N] [--by function|file] FILE.cpuprofile...\n');
  process.exit(2);
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return url.slice(nm + 14);
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 6);
  return url.startsWith('node:') ? url : basename(url);
}

const self = new Map<string, number>();
let total = 0;
let idle = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const keyOf = new Map<number, string>();
  for (const n of p.nodes) {
    const f = n.callFrame;
    const url = shortUrl(f.url);
    keyOf.set(
      n.id,
      by === 'file'
        ? url || `(${f.functionName})`
        : `${f.functionName || '(anonymous)'} ${url}${url ? `:${f.lineNumber + 1}` : ''}`,
    );
  }
  for (let i = 0; i < p.samples.length; i++) {
    const key = keyOf.get(p.samples[i]!)!;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    if (key.startsWith('(idle)')) {
      idle += dt;
      continue;
    }
    total += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`busy ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms (${files.length} file(s))\n`);
for (const [key, ms] of rows)
  process.stdout.write(
    `${ms.toFixed(1).padStart(9)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`,
  );
