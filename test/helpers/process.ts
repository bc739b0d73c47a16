import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestRecord } from '../../src/audit/index.js';
import type { LiveTollgate } from './audit.js';
import { launchTollgate } from './audit.js';
import { readStore } from './store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Compiles src/ to dist/ (`npx tsc -p tsconfig.json`); throws with the compiler output on failure. */
export function buildDist(): void {
  if (process.env.TOLLGATE_BUILT === '1') return; // scripts/test.sh built it before the tests started
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`build failed: ${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}${e.message}`);
  }
}

export { freePort } from './audit.js';

/** Tollgate running as its own process (`node dist/cli/main.js start -c CONFIG`). */
export interface TollgateProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly dataDir: string;
  readonly configPath: string;
  /** Everything the process wrote on stderr so far (its JSON event log). */
  stderr(): string;
  /** Resident set size in bytes, from /proc/PID/status (VmRSS). */
  rss(): number;
  /** Schema-validated request records from the embedded store, in chain order. */
  records(): RequestRecord[];
  /** Resolves with the records once `check` finds what it wants (rejects after timeoutMs). */
  waitForRecords(check: (records: RequestRecord[]) => boolean, timeoutMs?: number): Promise<RequestRecord[]>;
  /** SIGTERM, then SIGKILL after 5 s; removes the temporary folder. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts Tollgate as a separate process from a YAML text without `data_dir` and `listeners`
 * (both are added: a fresh temporary data dir and one listener named `public` on a free port,
 * with the given `listenerExtra` flow-mapping entries), and waits until the port answers.
 */
export async function startTollgateProcess(yaml: string, listenerExtra = ''): Promise<TollgateProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-proc-'));
  const dataDir = path.join(dir, 'data');
  let live: LiveTollgate;
  try {
    live = await launchTollgate(dir, dataDir, yaml, listenerExtra);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const child = live.child;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await live.stop(5000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // the store is readable while Tollgate writes it (WAL); records appear within one commit interval
  const records = (): RequestRecord[] =>
    fs.existsSync(path.join(dataDir, 'audit.db')) ? readStore(dataDir).requests : [];
  return {
    child,
    pid: child.pid!,
    port: live.port,
    dataDir,
    configPath: live.configPath,
    stderr: live.stderr,
    rss: () => {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m === null) throw new Error(`no VmRSS for pid ${child.pid}`);
      return Number(m[1]) * 1024;
    },
    records,
    waitForRecords: async (check, timeoutMs = 5000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const rs = records();
        if (check(rs)) return rs;
        if (Date.now() > end) {
          throw new Error(
            `timed out waiting for records in the store of ${dataDir}; have ${rs.length}: ${JSON.stringify(rs.map((r) => [r.url.path, r.tollgate.termination]))}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
  };
}
