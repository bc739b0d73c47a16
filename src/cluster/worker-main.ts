/**
 * The entry of a cluster worker process (forked by ClusterPrimary with `serialization: 'advanced'`).
 * It waits for the primary's `init`; signals are ignored (the primary drains its workers), and
 * when the primary's channel closes the worker stops serving and exits.
 */
import { createStderrLogger } from '../core/index.js';
import type { ToPrimary, ToWorker } from './protocol.js';
import { ClusterWorker } from './worker.js';

const logger = createStderrLogger();
const send = (m: ToPrimary, done?: () => void): void => {
  if (process.connected) process.send!(m, undefined, undefined, done);
  else done?.();
};
const worker = new ClusterWorker(logger, send, () => process.exit(0));
process.on('message', (m: ToWorker) => {
  worker.onMessage(m).catch((err: unknown) => {
    logger.log('error', 'worker failed to handle a message from the primary', {
      type: m.t,
      error: String(err),
    });
  });
});
process.on('disconnect', () => {
  worker.abandon().finally(() => process.exit(1));
});
send({ t: 'hello' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
