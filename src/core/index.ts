export type * from './api-types.js';
export type { Clock } from './clock.js';
export { FakeClock, isoMicros, systemClock } from './clock.js';
export type { ErrorSource, TollgateErrorOptions } from './errors.js';
export { ErrorCode, isTollgateError, TollgateError } from './errors.js';
export type { AdminEvent, EventSink } from './events.js';
export { systemEvent } from './events.js';
export type { TraceParent } from './ids.js';
export {
  formatTraceParent,
  isValidRequestId,
  newRequestId,
  newSpanId,
  newTraceId,
  parseTraceParent,
} from './ids.js';
export type { Logger, LogLevel } from './log.js';
export { createStderrLogger, silentLogger } from './log.js';
export type {
  AttemptOutcome,
  IdentityMethod,
  OutcomeObserver,
  RequestOutcome,
  Timings,
  TlsFacts,
} from './outcome.js';
export type { AttemptFailure, Termination } from './termination.js';
export { ATTEMPT_FAILURES, codeClass, isTermination, statusFor, TERMINATIONS } from './termination.js';
export {
  formatDuration,
  formatDurationSetting,
  formatSizeSetting,
  formatSpan,
  parseDuration,
  parsePercent,
  parseRate,
  parseSize,
} from './units.js';
