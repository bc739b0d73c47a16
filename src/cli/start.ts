import fs from 'node:fs';
import path from 'node:path';
import {
  App,
  demoBanner,
  demoBaseline,
  demoConfig,
  demoToken,
  installSignals,
  startDemoBackends,
} from '../app/index.js';
import { compileConfigText, loadConfigFile } from '../config/index.js';
import { createStderrLogger, ErrorCode, parseDuration, TollgateError } from '../core/index.js';
import { DEFAULT_BASELINE } from '../review/index.js';

export interface StartOptions {
  config: string;
  demo?: boolean;
  listen: string;
  admin: string;
  drainTimeout: string;
}

/** `tollgate start`: load (or build the demo) config, start, and run until a signal. */
export async function startCommand(options: StartOptions): Promise<void> {
  const logger = createStderrLogger();
  let drainMs: number;
  try {
    drainMs = parseDuration(options.drainTimeout);
  } catch (err) {
    throw new TollgateError(ErrorCode.USAGE, `--drain-timeout: ${(err as Error).message}`, {
      source: 'usage',
    });
  }
  let closeDemo: (() => Promise<void>) | null = null;
  let plan: ReturnType<typeof loadConfigFile>;
  let configPath: string | null = null;
  if (options.demo === true) {
    const demo = await startDemoBackends(3);
    closeDemo = demo.close;
    try {
      const dataDir = path.join(process.cwd(), 'tollgate-data');
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(
        path.join(dataDir, 'demo-baseline.yaml'),
        demoBaseline(fs.readFileSync(DEFAULT_BASELINE, 'utf8')),
      );
      const text = demoConfig(options.listen, demo.ports, options.admin, demo.collectorPort);
      // written out so `tollgate review -c tollgate-demo.yaml` (and check, query -c …) work on the demo too
      const file = path.join(process.cwd(), 'tollgate-demo.yaml');
      fs.writeFileSync(file, text);
      plan = compileConfigText(text, file);
    } catch (err) {
      await demo.close();
      throw err;
    }
  } else {
    configPath = options.config;
    plan = loadConfigFile(configPath);
  }
  const benchAuditOff = process.env.TOLLGATE_BENCH_AUDIT_OFF === '1';
  if (benchAuditOff)
    logger.log('error', 'TOLLGATE_BENCH_AUDIT_OFF=1: requests are NOT recorded (benchmarks only)');
  const benchMetricsOff = process.env.TOLLGATE_BENCH_METRICS_OFF === '1';
  if (benchMetricsOff)
    logger.log('warn', 'TOLLGATE_BENCH_METRICS_OFF=1: outcomes do not feed the metrics (benchmarks only)');
  const app = new App(plan, { logger, benchAuditOff, benchMetricsOff });
  try {
    await app.start();
  } catch (err) {
    await closeDemo?.();
    throw err;
  }
  const listener = app.listeners()[0];
  logger.log('info', 'started', {
    config: plan.source,
    listeners: app.listeners().map((l) => `${l.proto}://${l.host}:${l.port}`),
    admin: app.admin?.url() ?? null,
    pid: process.pid,
    workers: app.workers()?.map((w) => w.pid) ?? null,
  });
  if (options.demo === true && listener !== undefined) {
    const token = app.admin === null ? null : demoToken(plan.audit.storePath);
    await app.flushPendingEvents();
    process.stdout.write(
      demoBanner(`http://${listener.host}:${listener.port}`, plan.dataDir, app.admin?.url() ?? null, token),
    );
  }
  installSignals(
    app,
    configPath,
    logger,
    () => {
      const done = () => process.exit(0);
      if (closeDemo !== null) closeDemo().then(done, done);
      else done();
    },
    drainMs,
  );
}
