import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './audit.js';

/**
 * Real services for the sink tests, run the way ../shared/SERVICES.md describes: a throwaway
 * PostgreSQL cluster and a private rsyslog, each on a free loopback port with its data in a
 * temporary folder, each stoppable and restartable on the same data (to take a receiver away
 * under load and bring it back).
 */
export interface Service {
  readonly port: number;
  readonly dir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function stopChild(child: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const PGBIN = '/usr/lib/postgresql/15/bin';

export interface Postgres extends Service {
  readonly url: string;
  /** Runs SQL with psql and returns its unaligned, tuples-only output. */
  psql(sql: string): string;
}

/** A throwaway PostgreSQL 15 cluster (initdb as user postgres, trust auth, fsync off). */
export async function startPostgres(): Promise<Postgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-pg-'));
  execFileSync('chown', ['postgres:postgres', dir]);
  execFileSync(
    'runuser',
    [
      '-u',
      'postgres',
      '--',
      `${PGBIN}/initdb`,
      '-D',
      `${dir}/data`,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--no-sync',
    ],
    {
      stdio: 'ignore',
    },
  );
  const port = await freePort();
  let child: ChildProcess | null = null;
  const pg: Postgres = {
    port,
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      child = spawn(
        'setpriv',
        [
          '--reuid=postgres',
          '--regid=postgres',
          '--init-groups',
          `${PGBIN}/postgres`,
          '-D',
          `${dir}/data`,
          '-p',
          String(port),
          '-k',
          dir,
        ].concat(['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']),
        { stdio: 'ignore' },
      );
      await until('postgres to accept connections', () => {
        try {
          execFileSync('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      });
    },
    stop: () => stopChild(child, 'SIGINT'),
    async destroy() {
      await stopChild(child, 'SIGINT');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    psql: (sql) =>
      execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-Atc', sql], {
        encoding: 'utf8',
      }).trim(),
  };
  await pg.start();
  return pg;
}

export interface Rsyslog extends Service {
  /** The file rsyslog writes every message to (RFC 5424, one per line). */
  readonly file: string;
  /** The lines written so far. */
  lines(): string[];
}

/** A private rsyslogd receiving RFC 5424 over TCP (octet-counted), UDP or TLS and writing a file. */
export async function startRsyslog(
  protocol: 'tcp' | 'udp' | 'tls',
  tlsFiles?: { ca: string; cert: string; key: string },
): Promise<Rsyslog> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-rsyslog-'));
  const port = await freePort();
  const file = path.join(dir, 'audit.log');
  const input =
    protocol === 'udp'
      ? `module(load="imudp")\ninput(type="imudp" address="127.0.0.1" port="${port}" ruleset="audit")`
      : protocol === 'tcp'
        ? `module(load="imtcp")\ninput(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit" supportOctetCountedFraming="on")`
        : `global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${tlsFiles!.ca}" DefaultNetstreamDriverCertFile="${tlsFiles!.cert}" DefaultNetstreamDriverKeyFile="${tlsFiles!.key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit" supportOctetCountedFraming="on")`;
  fs.writeFileSync(
    path.join(dir, 'rsyslog.conf'),
    `global(workDirectory="${dir}" maxMessageSize="256k")
${input}
ruleset(name="audit") {
  action(type="omfile" file="${file}" template="RSYSLOG_SyslogProtocol23Format")
}
`,
  );
  execFileSync('rsyslogd', ['-N1', '-f', path.join(dir, 'rsyslog.conf')], { stdio: 'ignore' });
  let child: ChildProcess | null = null;
  const pidFile = path.join(dir, 'rsyslogd.pid');
  const r: Rsyslog = {
    port,
    dir,
    file,
    async start() {
      fs.rmSync(pidFile, { force: true });
      child = spawn('rsyslogd', ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', pidFile], {
        stdio: 'ignore',
      });
      await until('rsyslogd to start', () => fs.existsSync(pidFile));
      if (protocol !== 'udp') await until('rsyslogd to listen', () => connects(port));
      else await sleep(200);
    },
    stop: () => stopChild(child, 'SIGTERM'),
    async destroy() {
      await stopChild(child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    lines: () =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [],
  };
  await r.start();
  return r;
}

export interface Etcd extends Service {
  /** The client URL, http://127.0.0.1:PORT. */
  readonly url: string;
  /** Runs etcdctl against it and returns its output. */
  etcdctl(...args: string[]): string;
}

/** A private single-member etcd 3.4 on two free loopback ports (client, peer), data in a temporary folder. */
export async function startEtcd(): Promise<Etcd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-etcd-'));
  const port = await freePort();
  const peer = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const health = async () => {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  };
  const e: Etcd = {
    port,
    dir,
    url,
    async start() {
      child = spawn(
        'etcd',
        [
          '--name',
          't1',
          '--data-dir',
          path.join(dir, 'etcd'),
          '--listen-client-urls',
          url,
          '--advertise-client-urls',
          url,
          '--listen-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-cluster',
          `t1=http://127.0.0.1:${peer}`,
          '--initial-cluster-state',
          fs.existsSync(path.join(dir, 'etcd', 'member')) ? 'existing' : 'new',
          '--logger=zap',
          '--log-outputs=stderr',
        ],
        { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'etcd.log'), 'a')] },
      );
      await until('etcd to be healthy', health);
    },
    stop: () => stopChild(child, 'SIGTERM'),
    async destroy() {
      await stopChild(child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    etcdctl: (...args) =>
      execFileSync('etcdctl', [`--endpoints=${url}`, ...args], {
        encoding: 'utf8',
        env: { ...process.env, ETCDCTL_API: '3' },
      }),
  };
  await e.start();
  return e;
}

export interface Redis extends Service {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Runs redis-cli against it and returns its output. */
  cli(...args: string[]): string;
}

/** A private Redis 7 on a free loopback port (no persistence), in the foreground so it dies with its pid. */
export async function startRedis(): Promise<Redis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const r: Redis = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--logfile',
          path.join(dir, 'redis.log'),
        ],
        { stdio: 'ignore' },
      );
      await until('redis to answer PING', () => {
        try {
          return r.cli('ping').trim() === 'PONG';
        } catch {
          return false;
        }
      });
    },
    stop: () => stopChild(child, 'SIGTERM'),
    async destroy() {
      await stopChild(child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    cli: (...args) =>
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
  };
  await r.start();
  return r;
}
