import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import type { AdminRecord } from '../../src/audit/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import type { Browser } from '../helpers/browser.js';
import { buildWeb, launchBrowser } from '../helpers/browser.js';
import { token } from '../helpers/tokens.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * The dashboard (issue 7) in a real headless chromium (Debian's, driven by playwright-core)
 * against a running Tollgate: sign in, live requests sent with curl, one request's story, a drain
 * from the page that shows up in the audit view, a firing alert, a viewer without operator
 * buttons, a phone-width layout, the keyboard, and no console errors anywhere.
 *
 * Screenshots of each view go to $TOLLGATE_SCREENSHOTS (docs/screenshots to refresh the ones in
 * the docs), else to a temporary folder.
 */

const run = promisify(execFile);

/** `curl -s URL`: the status and the x-request-id Tollgate answered with. */
async function curl(url: string, host?: string): Promise<{ status: number; id: string }> {
  const { stdout } = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-D',
    '-',
    ...(host === undefined ? [] : ['-H', `Host: ${host}`]),
    url,
  ]);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(stdout)?.[1]);
  const id = /^x-request-id: *(\S+)/im.exec(stdout)?.[1];
  assert.ok(id !== undefined, `no x-request-id in ${stdout}`);
  return { status, id };
}

async function adminEvents(h: Harness, t: string, query: string): Promise<AdminRecord[]> {
  const res = await fetch(`${h.app.admin!.url()}/api/v1/events?limit=1000&${query}`, {
    headers: { authorization: `Bearer ${t}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { items: AdminRecord[] }).items;
}

/** The admin events matching `query` once `check` accepts them (events are committed asynchronously). */
async function eventually(
  h: Harness,
  t: string,
  query: string,
  check: (events: AdminRecord[]) => boolean,
): Promise<AdminRecord[]> {
  const end = Date.now() + 20_000;
  for (;;) {
    const events = await adminEvents(h, t, query);
    if (check(events)) return events;
    if (Date.now() > end)
      throw new Error(
        `no such admin events for ${query}; have ${JSON.stringify(events.slice(0, 10).map((e) => [e.event.action, e.url.path, e.tollgate.labels.status]))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Evaluated in the page (the tests' tsconfig has no DOM types). */
const TOKEN_IN_TAB = "sessionStorage.getItem('tollgate.token')";
const SIDEWAYS = 'document.documentElement.scrollWidth - window.innerWidth';

/**
 * Screenshots for the docs only: steady mixed traffic (mostly 200s, slow answers, a few 404s and
 * 503s) so the charts have a shape. Paced, not waited on; stopped in `after`.
 */
function backgroundTraffic(h: Harness): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    let x = 7;
    while (!stopped) {
      x = (x * 1103515245 + 12345) & 0x7fffffff; // a fixed pseudo-random sequence
      const k = x % 100;
      const p =
        k < 2
          ? '/status/503'
          : k < 6
            ? '/status/404'
            : k < 40
              ? `/slow?ms=${5 + (x % 180)}`
              : `/api/orders/${x % 10_000}`;
      await fetch(h.url(p))
        .then((r) => r.text())
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

describe('dashboard in a real browser', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let operator: string;
  let viewer: string;
  let base: string;
  const shots = process.env.TOLLGATE_SCREENSHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-shots-'));
  /** Console errors the test caused on purpose (a refused sign-in logs the 401). */
  let expectedProblems = 0;
  const docs = process.env.TOLLGATE_SCREENSHOTS !== undefined;
  let stopTraffic: () => Promise<void> = async () => {};

  const shot = async (name: string, p: Page = page) => {
    fs.mkdirSync(shots, { recursive: true });
    // confirmations of earlier actions would cover the view
    for (const b of await p.getByRole('button', { name: 'Dismiss' }).all()) await b.click();
    await p.screenshot({ path: path.join(shots, `${name}.png`) });
  };

  /** Docs mode: wait until the charts hold two minutes of the background traffic. */
  const enoughHistory = async () => {
    for (;;) {
      const res = await fetch(`${base}api/v1/stats?window=15m`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      const s = (await res.json()) as { t: number[] };
      if (s.t.length >= 120) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    // the page polls every 2 s: let it draw the latest
    await page
      .getByText(/[0-9,]{4,} requests in the last/)
      .first()
      .waitFor({ timeout: 180_000 });
  };

  const signIn = async (p: Page, t: string) => {
    await p.goto(base);
    await p.getByLabel('Admin token').fill(t);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('navigation', { name: 'Views' }).waitFor();
  };

  before(async () => {
    buildWeb();
    b1 = await startBackend('web-1');
    b2 = await startBackend('web-2');
    h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: flaky, match: { host: flaky.test }, pool: app, owner: team-web }
  - { name: app, match: { path_prefix: / }, pool: app, owner: team-web, tags: { env: test } }
pools:
  - name: app
    algorithm: round_robin
    backends:
      - { name: web-1, address: ${b1.address} }
      - { name: web-2, address: ${b2.address} }
    retries: { attempts: 1, on: [503] }
admin:
  address: 127.0.0.1:0
alerts:
  rules:
    - { name: flaky-5xx, when: error_rate, route: flaky, above: 20%, window: 5m }
`);
    operator = token(h, 'olga-operator', 'operator');
    viewer = token(h, 'vic-viewer', 'viewer');
    base = `${h.app.admin!.url()}/`;
    browser = await launchBrowser();
    page = await browser.page();
    if (docs) stopTraffic = backgroundTraffic(h);
  });

  after(async () => {
    await stopTraffic();
    await browser?.close();
    await h?.close();
    await b1?.close();
    await b2?.close();
    if (process.env.TOLLGATE_SCREENSHOTS === undefined) fs.rmSync(shots, { recursive: true, force: true });
  });

  it('serves the page and its hashed assets without a token, with types, caching, a CSP and a favicon; records the page load only', async () => {
    const page0 = await fetch(base, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(page0.status, 200);
    assert.match(page0.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page0.headers.get('cache-control'), 'no-cache');
    assert.match(page0.headers.get('content-security-policy') ?? '', /default-src 'none'.*script-src 'self'/);
    const html = await page0.text();
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), html);
    assert.doesNotMatch(html, /https?:\/\//, 'the page loads nothing from elsewhere');
    for (const a of assets) {
      const res = await fetch(`${base}${a}`);
      assert.equal(res.status, 200, a);
      assert.match(
        res.headers.get('content-type') ?? '',
        a.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      );
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      const body = await res.text();
      assert.doesNotMatch(body, /https?:\/\/(?!www\.w3\.org)[a-z]/i, `${a} refers to another site`);
      const again = await fetch(`${base}${a}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      assert.equal(again.status, 304);
    }
    const icon = await fetch(`${base}favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
    assert.equal((await fetch(`${base}assets/nope.js`)).status, 404);
    assert.equal((await fetch(base, { method: 'POST' })).status, 405);
    // the page load is an admin event; its files are not, unless refused
    const line = (e: AdminRecord) => `${e.url.path} ${e.tollgate.labels.status}`;
    const events = await eventually(h, viewer, 'action=admin_request', (es) =>
      ['/ 200', '/assets/nope.js 404', '/ 405'].every((want) => es.some((e) => line(e) === want)),
    );
    const paths = events.map(line);
    assert.ok(paths.includes('/ 200'), JSON.stringify(paths));
    assert.ok(paths.includes('/assets/nope.js 404'), JSON.stringify(paths));
    assert.ok(!paths.some((p) => /\/assets\/index-.*200$/.test(p)), JSON.stringify(paths));
    assert.ok(!paths.some((p) => p.startsWith('/favicon')), JSON.stringify(paths));
  });

  it('refuses a wrong token with a clear message and keeps the sign-in form', async () => {
    await page.goto(base);
    await shot('signin');
    await page.getByLabel('Admin token').fill('tgt_not-a-real-token');
    expectedProblems++; // chromium logs the refused whoami (401) as a console error
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /That token was not accepted: unknown token/);
    assert.equal(await page.getByRole('navigation', { name: 'Views' }).count(), 0);
    assert.equal(await page.evaluate(TOKEN_IN_TAB), null);
  });

  it('signs in with an operator token: the overview has live charts and the pool with its backends', async () => {
    for (let i = 0; i < 12; i++) await curl(h.url(`/warmup/${i}`));
    await signIn(page, operator);
    assert.equal(await page.evaluate(TOKEN_IN_TAB), operator);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    assert.match(await page.locator('.who').innerText(), /olga-operator · operator/);
    await page.locator('tr[data-backend="web-1"]').waitFor();
    assert.match(await page.locator('tr[data-backend="web-2"]').innerText(), /ready/);
    // three charts drawn by uPlot, with the traffic just sent counted
    await page.locator('.chart canvas').nth(2).waitFor();
    assert.equal(await page.locator('.chart canvas').count(), 3);
    // a locator, not waitForFunction: the page's CSP forbids the eval a string predicate needs
    await page
      .getByText(/[1-9][\d,]* requests in the last/)
      .first()
      .waitFor();
    await page.getByRole('button', { name: 'Drain web-2' }).waitFor();
    if (docs) await page.locator('.chart .u-over').nth(2).waitFor();
    if (docs) await enoughHistory();
    await shot('overview');
  });

  it('shows requests sent with curl as they are recorded, through the live stream', async () => {
    await page.getByRole('link', { name: 'Live requests' }).click();
    await page.locator('[data-stream="live"]').waitFor();
    const sent = [await curl(h.url('/orders/42?page=2')), await curl(h.url('/status/503'))];
    for (const s of sent) await page.locator(`tr[data-request-id="${s.id}"]`).waitFor();
    const row = await page.locator(`tr[data-request-id="${sent[0]!.id}"]`).innerText();
    assert.match(row, /GET \/orders\/42\?page=2/);
    assert.match(row, /200/);
    assert.match(await page.locator(`tr[data-request-id="${sent[1]!.id}"]`).innerText(), /503/);
    // the filters narrow the stream: only 5xx now
    await page.getByLabel('Status').fill('5xx');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/#\/live\?status=5xx/);
    await page.locator('[data-stream="live"]').waitFor();
    const only = await curl(h.url('/status/503'));
    const ok = await curl(h.url('/fine'));
    await page.locator(`tr[data-request-id="${only.id}"]`).waitFor();
    await h.record(ok.id);
    await page.locator(`tr[data-request-id="${only.id}"]`).waitFor();
    assert.equal(await page.locator(`tr[data-request-id="${ok.id}"]`).count(), 0, 'a 200 is not a 5xx');
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.locator(`tr[data-request-id="${ok.id}"]`).waitFor();
    await shot('live');
  });

  it("opens one request's story: both attempts on the timeline, timings, identity and termination", async () => {
    const { id } = await curl(h.url('/status/503?story=1'));
    await page.locator(`tr[data-request-id="${id}"]`).waitFor();
    await page.locator(`tr[data-request-id="${id}"] a`).click();
    await page.getByRole('heading', { name: /Request/ }).waitFor();
    await page.locator('[data-attempt="2"]').waitFor();
    const text = await page.locator('.story').innerText();
    assert.match(text, /GET.*\/status\/503\?story=1/);
    assert.match(text, /503/);
    assert.match(text, /ok in/, 'termination ok: the last answer was passed through');
    assert.match(await page.locator('[data-attempt="1"]').innerText(), /answered 503 after .* retried/);
    assert.match(text, /Attempt 1: web-\d/);
    assert.match(text, /Attempt 2: web-\d/);
    assert.match(text, /Upstream headers/);
    assert.match(text, /Identified by\s+anonymous/);
    assert.match(text, /Route\s+app/);
    assert.match(text, new RegExp(`tollgate explain ${id}`));
    await shot('request');
  });

  it('drains a backend from the page; the backend_drained event shows in the audit view at once', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('button', { name: 'Drain web-2' }).click();
    await page.getByRole('status').filter({ hasText: 'Drained app/web-2' }).waitFor();
    await page.getByRole('button', { name: 'Undrain web-2' }).waitFor();
    assert.match(await page.locator('tr[data-backend="web-2"]').innerText(), /draining/);
    assert.equal(h.app.proxy.backends.get('app', 'web-2')?.draining, true);
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const drained = page.locator('tr[data-action="backend_drained"]').first();
    await drained.waitFor();
    assert.match(await drained.innerText(), /olga-operator/);
    const call = page
      .locator('tr[data-action="admin_request"]')
      .filter({ hasText: 'POST /api/v1/pools/app/backends/web-2/drain' })
      .first();
    await call.waitFor();
    const callText = await call.innerText();
    assert.match(callText, /olga-operator/);
    assert.match(callText, /127\.0\.0\.1/);
    assert.match(callText, /success 200/);
    assert.match(callText, /pools\["app"\]\.backends\["web-2"\]\.draining\s+false\s+→\s+true/);
    // the pipeline's health: nothing lost, the chain re-verified by the running process
    await page.locator('[data-lost="0"]').waitFor();
    await page
      .locator('[data-chain="ok"]')
      .filter({ hasText: /verified up to seq \d+/ })
      .waitFor();
    // the compliance review of this config: the default 30-day retention fails PCI DSS 10.5.1
    const retention = page.locator('tr[data-check="retention"]');
    await retention.waitFor();
    assert.equal(await retention.getAttribute('data-status'), 'fail');
    assert.match(
      await retention.innerText(),
      /retention is 30 days, less than the 365 days required[\s\S]*10\.5\.1/,
    );
    assert.equal(await page.locator('tr[data-check="redaction"]').getAttribute('data-status'), 'pass');
    await shot('audit');
  });

  it('shows a firing alert with its samples, and an operator silences it from the page', async () => {
    // a route of its own, so the ratio does not depend on the other tests' traffic
    for (let i = 0; i < 8; i++) await curl(h.url(`/status/503?burst=${i}`), 'flaky.test');
    await page.getByRole('link', { name: 'Alerts' }).click();
    const card = page.locator('article.alert.firing').filter({ hasText: 'flaky-5xx' });
    await card.waitFor();
    const text = await card.innerText();
    assert.match(text, /firing/);
    assert.match(text, /Owner\s+team-web/);
    assert.match(text, /threshold 20%/);
    assert.ok((await card.locator('.alert-samples a').count()) > 0, 'sample requests are linked');
    await shot('alerts');
    await card.getByLabel('Reason').fill('known: the test backend answers 503 on purpose');
    await card.getByRole('button', { name: 'Silence' }).click();
    await card.locator('.badge').filter({ hasText: 'silenced until' }).waitFor();
    const silenced = await eventually(h, viewer, 'action=alert_silenced', (es) => es.length > 0);
    assert.equal(silenced[0]!.user.name, 'olga-operator');
    assert.equal(silenced[0]!.event.reason, 'known: the test backend answers 503 on purpose');
  });

  it('groups the failures by route, backend and termination with sample requests, and lists the top clients', async () => {
    await page.getByRole('link', { name: 'Errors & clients' }).click();
    const groups = page.locator('table.errors tbody tr');
    await groups.first().waitFor();
    const text = await page.locator('table.errors').innerText();
    assert.match(text, /app\s+web-\d\s+ok \(backend 5xx\)\s+503/);
    assert.ok((await page.locator('table.errors .samples a').count()) > 0);
    const clients = page.locator('table.clients');
    await clients.waitFor();
    assert.match(await clients.innerText(), /127\.0\.0\.1/);
    await shot('errors');
  });

  it('is usable from the keyboard: the views are links, a request opens with Enter', async () => {
    await page.getByRole('link', { name: 'Live requests' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Live requests' }).waitFor();
    // focus moved to the view's heading
    assert.equal(await page.evaluate('document.activeElement.tagName'), 'H1');
    const link = page.locator('table.requests tbody tr a').first();
    await link.waitFor();
    await link.focus();
    await page.keyboard.press('Enter');
    await page.locator('.story').waitFor();
  });

  it('a viewer signs in and sees no drain or silence buttons', async () => {
    const p = await browser.context.newPage();
    try {
      // sessionStorage is per tab: the new tab starts signed out
      await p.goto(base);
      await p.getByLabel('Admin token').waitFor();
      await signIn(p, viewer);
      assert.match(await p.locator('.who').innerText(), /vic-viewer · viewer/);
      await p.locator('tr[data-backend="web-1"]').waitFor();
      assert.equal(await p.getByRole('button', { name: /^(Un)?[Dd]rain/ }).count(), 0);
      await p.getByRole('link', { name: 'Alerts' }).click();
      await p.locator('article.alert').first().waitFor();
      assert.equal(await p.getByRole('button', { name: 'Silence' }).count(), 0);
    } finally {
      await p.close();
    }
  });

  it('fits a phone: no sideways scrolling of the page at 390 px', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.locator('tr[data-backend="web-1"]').waitFor();
    await page.locator('.chart canvas').first().waitFor();
    const overflow = Number(await page.evaluate(SIDEWAYS));
    assert.ok(overflow <= 1, `the page is ${overflow} px wider than the phone`);
    await shot('overview-phone');
    await page.getByRole('link', { name: 'Live requests' }).click();
    await page.locator('table.requests').waitFor();
    const overflowLive = Number(await page.evaluate(SIDEWAYS));
    assert.ok(overflowLive <= 1, `the live view is ${overflowLive} px wider than the phone`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('logged no console errors and no uncaught exceptions', () => {
    const unexpected = browser.problems.filter((p) => !/status of 401/.test(p));
    assert.deepEqual(unexpected, []);
    assert.equal(
      browser.problems.length - unexpected.length,
      expectedProblems,
      JSON.stringify(browser.problems),
    );
  });
});
