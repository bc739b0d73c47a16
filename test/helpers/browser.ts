import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the dashboard into dist/web (`vite build web`) unless scripts/test.sh built everything already. */
export function buildWeb(): void {
  if (process.env.TOLLGATE_BUILT === '1' && fs.existsSync(path.join(ROOT, 'dist/web/index.html'))) return;
  try {
    execFileSync('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(
      `dashboard build failed: ${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}${e.message}`,
    );
  }
}

/** Debian's chromium (`apt-get install chromium`; scripts/test.sh installs it). Playwright downloads nothing. */
export function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium on PATH: apt-get install -y chromium (scripts/test.sh does it)');
  }
}

export interface Browser {
  context: BrowserContext;
  /** A new tab that records console errors and uncaught exceptions into `problems`. */
  page(): Promise<Page>;
  /** Console errors and page errors seen so far, with the page URL. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Headless chromium through playwright-core, with a throwaway profile: no sandbox (containers),
 * no GPU, nothing fetched in the background (the dashboard must work without the internet).
 */
export async function launchBrowser(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    viewport,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  // the machine is shared and loaded: generous, but every wait is for a condition
  context.setDefaultTimeout(30_000);
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught on ${page.url()}: ${e.message}`));
  };
  for (const p of context.pages()) watch(p);
  context.on('page', watch);
  return {
    context,
    problems,
    page: async () => {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
