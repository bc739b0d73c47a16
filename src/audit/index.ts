export { combinedLine, escapeCombined } from './combined.js';
export { LineWriter } from './line-writer.js';
export type { RecordAttempt, RequestRecord } from './record.js';
export { buildRequestRecord, REQUEST_SCHEMA } from './record.js';
export { Recorder } from './recorder.js';
export type { Redaction } from './redact.js';
export { captureHeaders, REDACTED, redactQuery } from './redact.js';
export { serializeRequestRecord } from './serialize.js';
