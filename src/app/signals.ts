import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { ErrorCode } from '../core/index.js';
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
    const refused = (err: unknown) => {
      reloading = false;
      const reason = err instanceof Error ? err.message : String(err);
      logger.log('error', 'reload refused: the config is invalid; the running config keeps serving', {
        problems: reason.split('\n'),
      });
      app.reloadRefused(reason, 'local-operator');
    };
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (err) {
      return refused(
        new ConfigError(
          [
            {
              file: configPath,
              line: 1,
              col: 1,
              path: '',
              message: `cannot read ${configPath}: ${(err as Error).message}`,
            },
          ],
          ErrorCode.CONFIG_READ,
        ),
      );
    }
    app
      .planFromFile(text, configPath)
      .catch((err: unknown) => {
        refused(err);
        return null;
      })
      .then((plan) => (plan === null ? null : app.reload(plan, 'local-operator')))
      .then((done) => {
        if (done !== null) logger.log('info', 'reloaded', { config: configPath });
      })
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
