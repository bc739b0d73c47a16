import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ApiError } from './http.js';

/**
 * The dashboard's static files (`web/`, built by vite into `dist/web/`), served by the admin
 * server at `/` without a token: they hold no data, every figure comes from `/api/v1` with the
 * token the page keeps in sessionStorage. Loaded into memory once (with a gzip copy), answered
 * with ETags; `index.html` is revalidated on every load, the content-hashed files under
 * `assets/` are cached for a year.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Only the page itself, its own files and same-origin API calls; nothing from anywhere else. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | null;
  readonly type: string;
  readonly etag: string;
  readonly cache: string;
}

/** Where `npm run build` puts the dashboard: dist/web next to dist/admin, or from src/ (tsx) ../../dist/web. */
function candidates(): string[] {
  return [
    fileURLToPath(new URL('../web/', import.meta.url)),
    fileURLToPath(new URL('../../dist/web/', import.meta.url)),
  ];
}

function load(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (sub: string) => {
    for (const e of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) {
        walk(rel);
        continue;
      }
      const body = fs.readFileSync(path.join(dir, rel));
      const ext = path.extname(e.name);
      const type = TYPES[ext] ?? 'application/octet-stream';
      const compressible = /^(text\/|image\/svg|application\/json)/.test(type) && body.length > 512;
      files.set(`/${rel}`, {
        body,
        gzip: compressible ? gzipSync(body, { level: 9 }) : null,
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        cache: rel.startsWith('assets/')
          ? 'public, max-age=31536000, immutable'
          : rel === 'index.html'
            ? 'no-cache'
            : 'public, max-age=86400',
      });
    }
  };
  walk('');
  return files;
}

export class DashboardFiles {
  readonly #dirs: readonly string[];
  #files: Map<string, StaticFile> | null = null;

  constructor(dirs: readonly string[] = candidates()) {
    this.#dirs = dirs;
  }

  /** True for the paths this serves: the page, its assets and the favicon. */
  static handles(pathname: string): boolean {
    return (
      pathname === '/' ||
      pathname === '/index.html' ||
      pathname === '/favicon.ico' ||
      pathname === '/favicon.svg' ||
      pathname.startsWith('/assets/')
    );
  }

  /** Whether a successful answer for this path is recorded as an admin event (the page, not its files). */
  static recorded(pathname: string): boolean {
    return pathname === '/' || pathname === '/index.html';
  }

  #load(): Map<string, StaticFile> {
    if (this.#files !== null) return this.#files;
    const dir = this.#dirs.find((d) => fs.existsSync(path.join(d, 'index.html')));
    if (dir === undefined)
      throw new ApiError(
        503,
        'dashboard_not_built',
        `the dashboard is not built: run npm run build (it writes dist/web); looked in ${this.#dirs.join(', ')}`,
      );
    this.#files = load(dir);
    return this.#files;
  }

  /** Answers a GET or HEAD for a path `handles` accepted; throws ApiError (404, 503) otherwise. Returns the status. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): number {
    const files = this.#load();
    const key = pathname === '/' ? '/index.html' : pathname === '/favicon.ico' ? '/favicon.svg' : pathname;
    const f = files.get(key);
    if (f === undefined) throw new ApiError(404, 'not_found', `no dashboard file ${pathname}`);
    const headers: Record<string, string | number> = {
      'content-type': f.type,
      'cache-control': f.cache,
      etag: f.etag,
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
    };
    if (key === '/index.html') {
      headers['content-security-policy'] = DASHBOARD_CSP;
      headers['x-frame-options'] = 'DENY';
      headers['referrer-policy'] = 'no-referrer';
    }
    const inm = req.headers['if-none-match'];
    if (inm?.split(',').some((t) => t.trim() === f.etag)) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    const gzip = f.gzip !== null && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? f.gzip! : f.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return 200;
  }
}
