/** Tollgate's own operational log: one JSON object per line on stderr (SPEC §1). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export function createStderrLogger(minLevel: LogLevel = 'info'): Logger {
  const order = { debug: 0, info: 1, warn: 2, error: 3 };
  const min = order[minLevel];
  return {
    log(level, msg, fields) {
      if (order[level] < min) return;
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };
