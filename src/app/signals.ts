import { loadConfigFile } from '../config/index.js';
import type { Logger } from '../core/index.js';
import type { App } from './app.js';

/**
 * SIGHUP reloads the config file (an invalid one is refused with the `check` messages and the
 * running plan keeps serving); SIGTERM and SIGINT drain and stop.
 */
export function installSignals(
  app: App,
  configPath: string | null,
  logger: Logger,
  onStopped: () => void,
  drainMs = 30_000,
): void {
  let reloading = false;
  process.on('SIGHUP', () => {
    if (configPath === null) {
      logger.log('warn', 'SIGHUP ignored: this instance was not started from a config file');
      return;
    }
    if (reloading) return;
    reloading = true;
    let plan: ReturnType<typeof loadConfigFile>;
    try {
      plan = loadConfigFile(configPath);
    } catch (err) {
      reloading = false;
      const reason = err instanceof Error ? err.message : String(err);
      logger.log('error', 'reload refused: the config is invalid; the running config keeps serving', {
        problems: reason.split('\n'),
      });
      app.reloadRefused(reason, 'local-operator');
      return;
    }
    app
      .reload(plan, 'local-operator')
      .then(() => logger.log('info', 'reloaded', { config: configPath }))
      .catch((err) =>
        logger.log('error', 'reload failed; the running config keeps serving', { error: String(err) }),
      )
      .finally(() => {
        reloading = false;
      });
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log('info', 'draining', { signal, deadline_ms: drainMs });
    app.stop(drainMs).then(onStopped, (err) => {
      logger.log('error', 'stop failed', { error: String(err) });
      onStopped();
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
