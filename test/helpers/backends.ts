import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './process.js';

/**
 * Loopback backends for tests, on port 0. The default handler answers by path:
 *   /healthz            200 "ok" (or 503 when `healthy` is false)
 *   /slow?ms=N          answers after N ms
 *   /status/NNN         answers with that status
 *   /reset              destroys the connection without answering
 *   /stall              never answers
 *   /garbage            writes bytes that are not HTTP, then closes
 *   /cut?bytes=N        sends headers promising 2N bytes, N bytes, then destroys the connection
 *   /bytes?n=N          streams N bytes of body
 *   /sink               reads the whole request body and answers with its size
 *   anything else       JSON: { backend, method, url, headers }
 */
export interface TestBackend {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  /** Requests received, by path. */
  readonly hits: Map<string, number>;
  /** Requests received in total. */
  count(): number;
  healthy: boolean;
  readonly lastHeaders: http.IncomingHttpHeaders[];
  server: http.Server;
  close(): Promise<void>;
}

export async function startBackend(name: string, handler?: http.RequestListener): Promise<TestBackend> {
  const hits = new Map<string, number>();
  const lastHeaders: http.IncomingHttpHeaders[] = [];
  let total = 0;
  const backend: TestBackend = {
    name,
    port: 0,
    address: '',
    hits,
    count: () => total,
    healthy: true,
    lastHeaders,
    server: null as unknown as http.Server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/healthz') {
      total++;
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      lastHeaders.push(req.headers);
      if (lastHeaders.length > 50) lastHeaders.shift();
    }
    if (handler !== undefined) return handler(req, res);
    defaultHandler(backend, url, req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  Object.assign(backend, { port, address: `127.0.0.1:${port}`, server });
  return backend;
}

function defaultHandler(b: TestBackend, url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const p = url.pathname;
  if (p === '/healthz') {
    req.resume();
    res.writeHead(b.healthy ? 200 : 503).end(b.healthy ? 'ok' : 'down');
    return;
  }
  if (p === '/sink') {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(JSON.stringify({ backend: b.name, received: n })));
    return;
  }
  req.resume();
  if (p === '/reset') return void req.socket.destroy();
  if (p === '/stall') return;
  if (p === '/garbage') {
    req.socket.end('THIS IS NOT HTTP\r\n\r\n');
    return;
  }
  if (p === '/cut') {
    const n = Number(url.searchParams.get('bytes') ?? 1000);
    res.writeHead(200, { 'content-length': String(n * 2) });
    res.write(Buffer.alloc(n, 97), () => setTimeout(() => req.socket.destroy(), 20));
    return;
  }
  if (p === '/bytes') return void streamBytes(res, Number(url.searchParams.get('n') ?? 0));
  const reply = () => {
    const status = p.startsWith('/status/') ? Number(p.slice(8)) : 200;
    const body = JSON.stringify({ backend: b.name, method: req.method, url: req.url, headers: req.headers });
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  };
  if (p === '/slow') setTimeout(reply, Number(url.searchParams.get('ms') ?? 100));
  else reply();
}

const CHUNK = Buffer.alloc(64 * 1024, 120);

function streamBytes(res: http.ServerResponse, n: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
  let left = n;
  const pump = () => {
    while (left > 0) {
      const size = Math.min(left, CHUNK.length);
      left -= size;
      if (!res.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** An address nothing listens on: connections are refused. */
export async function refusedAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/**
 * An address whose connects hang (a listening socket with a full accept queue that never
 * accepts: the kernel drops further SYNs), to produce connect timeouts on loopback.
 */
export async function blackholeAddress(): Promise<{ address: string; close(): void }> {
  const script = `
import socket,time
s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0); port=s.getsockname()[1]
cs=[]
for i in range(3):
    c=socket.socket(); c.setblocking(False); c.connect_ex(('127.0.0.1',port)); cs.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(120)
`;
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  return { address: `127.0.0.1:${port}`, close: () => child.kill() };
}
