import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DASHBOARD_CSP, DashboardFiles } from './dashboard.js';
import { ApiError } from './http.js';

/** Serves `files` on a loopback port the way the admin server does, errors as their status. */
async function serve(files: DashboardFiles): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      files.serve(req, res, p);
    } catch (err) {
      res.writeHead(err instanceof ApiError ? err.status : 500).end(err instanceof Error ? err.message : '');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('dashboard files', () => {
  let dir: string;
  let site: { url: string; close(): Promise<void> };
  const js = `console.log(${JSON.stringify('x'.repeat(2000))});`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-web-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><script src="./assets/app-1a2b.js"></script>',
    );
    fs.writeFileSync(path.join(dir, 'assets/app-1a2b.js'), js);
    fs.writeFileSync(path.join(dir, 'assets/app-1a2b.css'), 'body{}');
    fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    site = await serve(new DashboardFiles([path.join(dir, 'missing'), dir]));
  });
  after(async () => {
    await site.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers the page with no-cache and a CSP, hashed assets for a year, the favicon for a day', async () => {
    const page = await fetch(`${site.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const asset = await fetch(`${site.url}/assets/app-1a2b.css`);
    assert.equal(asset.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(asset.headers.get('content-security-policy'), null);
    const icon = await fetch(`${site.url}/favicon.ico`);
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
    assert.equal(icon.headers.get('cache-control'), 'public, max-age=86400');
  });

  it('sends gzip to a client that takes it, answers 304 to a matching ETag, and 404 to an unknown file', async () => {
    const raw = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get(`${site.url}/assets/app-1a2b.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    assert.equal(raw.headers['content-encoding'], 'gzip');
    assert.equal(raw.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.ok(raw.body.length < js.length);
    assert.equal(gunzipSync(raw.body).toString(), js);
    const etag = raw.headers.etag!;
    const again = await fetch(`${site.url}/assets/app-1a2b.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal((await fetch(`${site.url}/assets/nope.js`)).status, 404);
  });

  it('answers 503 naming the build step when the dashboard was not built', async () => {
    const empty = await serve(new DashboardFiles([path.join(dir, 'missing')]));
    try {
      const res = await fetch(`${empty.url}/`);
      assert.equal(res.status, 503);
      assert.match(await res.text(), /not built: run npm run build/);
    } finally {
      await empty.close();
    }
  });

  it('serves the page, its assets and the favicon, and nothing else', () => {
    for (const p of ['/', '/index.html', '/favicon.ico', '/favicon.svg', '/assets/x.js'])
      assert.equal(DashboardFiles.handles(p), true, p);
    for (const p of ['/api/v1/status', '/metrics', '/index.htm', '/assetsx'])
      assert.equal(DashboardFiles.handles(p), false, p);
    assert.equal(DashboardFiles.recorded('/'), true);
    assert.equal(DashboardFiles.recorded('/assets/x.js'), false);
  });
});
