import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Helpers for the audit-trail tests: Tollgate as a process on a data dir the test owns (so it
 * can be killed and restarted on the same dir), and the `tollgate` command line.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = path.join(ROOT, 'dist/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tollgate ARGS…` to completion (from `cwd`, a temporary folder by default). */
export function cli(args: string[], cwd = os.tmpdir()): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cli` without blocking the event loop (for a Tollgate running in this process). */
export function cliAsync(args: string[], cwd = os.tmpdir()): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `tollgate start -c CONFIG` that the test kills or stops itself; the data dir is left alone. */
export interface LiveTollgate {
  readonly child: ChildProcess;
  readonly port: number;
  readonly configPath: string;
  url(p?: string): string;
  stderr(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no drain, no final checkpoint. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (drain, final checkpoint); resolves with the exit code; SIGKILL after `ms`. */
  stop(ms?: number): Promise<number | null>;
}

/**
 * Writes `<dir>/tollgate.yaml` (data_dir `dataDir`, one listener `public` on a free port, then
 * `yaml`) and starts Tollgate on it; resolves once the port answers.
 */
export async function launchTollgate(
  dir: string,
  dataDir: string,
  yaml: string,
  listenerExtra = '',
): Promise<LiveTollgate> {
  for (let attempt = 1; ; attempt++) {
    const live = await launchOnce(dir, dataDir, yaml, listenerExtra);
    if (live !== 'port taken') return live;
    // another process took the port between freePort() and tollgate's bind: try another one
    if (attempt === 3) throw new Error('tollgate could not bind a free port in 3 attempts (EADDRINUSE)');
  }
}

async function launchOnce(
  dir: string,
  dataDir: string,
  yaml: string,
  listenerExtra: string,
): Promise<LiveTollgate | 'port taken'> {
  const port = await freePort();
  const configPath = path.join(dir, 'tollgate.yaml');
  const extra = listenerExtra === '' ? '' : `, ${listenerExtra}`;
  fs.writeFileSync(
    configPath,
    `data_dir: ${dataDir}\nlisteners:\n  - { name: public, address: 127.0.0.1:${port}${extra} }\n${yaml}`,
  );
  const child = spawn(process.execPath, [MAIN, 'start', '-c', configPath], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      resolve({ code, signal });
    }),
  );
  const live: LiveTollgate = {
    child,
    port,
    configPath,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    stderr: () => stderr,
    exited,
    kill: async () => {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
    stop: async (ms = 10_000) => {
      if (!gone) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const { code } = await exited;
      clearTimeout(t);
      return code;
    },
  };
  // Ready means tollgate's own "started" line names the port: it is logged once every listener
  // listens (a port that merely answers could be another process's, if one took it after
  // freePort() let go of it)
  const started = `127.0.0.1:${port}"`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (gone) {
      if (stderr.includes('EADDRINUSE')) return 'port taken';
      throw new Error(`tollgate exited before its port answered: ${stderr}`);
    }
    if (startedLine(stderr, started)) return live;
    if (Date.now() > deadline) {
      await live.kill();
      throw new Error(`tollgate did not answer on port ${port} within 15 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether tollgate's log has its `started` line, listing a listener on `hostPort`. */
function startedLine(stderr: string, hostPort: string): boolean {
  return stderr.split('\n').some((line) => line.includes('"msg":"started"') && line.includes(hostPort));
}

/**
 * A free loopback port, chosen below the kernel's ephemeral range (where listen(0) and every
 * outgoing connection take their ports), so that no other test's socket can be handed the same
 * port between this check and the caller's own bind. Falls back to listen(0).
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; i < 50 && low > 20_000; i++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await bindable(port)) return port;
  }
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
    return Number.isInteger(low) ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A fresh temporary folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Copies a (stopped instance's) data dir, WAL files included. */
export function copyDir(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}
