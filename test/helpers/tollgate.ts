import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from '../../src/app/index.js';
import type { RequestRecord } from '../../src/audit/index.js';
import { buildRequestRecord } from '../../src/audit/index.js';
import { compileConfigText } from '../../src/config/index.js';
import type { AdminEvent, Logger, RequestOutcome } from '../../src/core/index.js';
import { silentLogger } from '../../src/core/index.js';
import { assertValidRecord } from './schema.js';

/**
 * Tollgate started in-process from a YAML text (data_dir is set to a fresh temporary folder
 * unless the text sets one). Every record it produces is validated against the shipped schema
 * as it arrives; an invalid one fails the test that waits for it.
 */
export interface Harness {
  app: App;
  port: number;
  url(p?: string): string;
  dataDir: string;
  records: RequestRecord[];
  events: AdminEvent[];
  /** Resolves with the records once at least n arrived (rejects after timeoutMs). */
  waitForRecords(n: number, timeoutMs?: number): Promise<RequestRecord[]>;
  /** The next record with this request id. */
  record(requestId: string, timeoutMs?: number): Promise<RequestRecord>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Tollgate's operational log (default: silent). */
  logger?: Logger;
}

export async function startTollgate(yaml: string, options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-test-'));
  const text = /^data_dir:/m.test(yaml) ? yaml : `data_dir: ${dataDir}\n${yaml}`;
  const plan = compileConfigText(text, path.join(dataDir, 'tollgate.yaml'));
  const records: RequestRecord[] = [];
  const events: AdminEvent[] = [];
  const invalid: Error[] = [];
  const waiters = new Set<() => void>();
  const observer = {
    onOutcome(o: RequestOutcome) {
      const r = JSON.parse(JSON.stringify(buildRequestRecord(o, plan.audit, 'test')));
      try {
        assertValidRecord(r);
      } catch (err) {
        invalid.push(err as Error);
      }
      records.push(r);
      for (const w of waiters) w();
    },
  };
  const app = new App(plan, {
    logger: options.logger ?? silentLogger,
    observers: [observer],
    instance: 'test',
  });
  app.events.subscribe((e) => events.push(e));
  await app.start();
  const port = app.proxy.listeners()[0]!.port();
  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const tryIt = () => {
        if (invalid.length > 0) {
          cleanup();
          reject(invalid[0]);
          return true;
        }
        const v = check();
        if (v !== undefined) {
          cleanup();
          resolve(v);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for ${what}; have ${records.length} records: ${JSON.stringify(records.map((r) => [r.url.path, r.tollgate.termination]))}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(listener);
      };
      const listener = () => void tryIt();
      if (!tryIt()) waiters.add(listener);
    });
  return {
    app,
    port,
    dataDir,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    records,
    events,
    waitForRecords: (n, timeoutMs = 5000) =>
      waitFor(() => (records.length >= n ? records : undefined), timeoutMs, `${n} records`),
    record: (id, timeoutMs = 5000) =>
      waitFor(() => records.find((r) => r.http.request.id === id), timeoutMs, `record ${id}`),
    close: async () => {
      await app.stop(1000);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
