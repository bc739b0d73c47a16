export type { AdminRecord } from './admin-record.js';
export { ADMIN_SCHEMA, buildAdminRecord } from './admin-record.js';
export {
  chainHash,
  embeddedSeq,
  GENESIS,
  sealLine,
  signAnchor,
  signCheckpoint,
  statementText,
  verifyAnchor,
  verifyCheckpoint,
  withHash,
} from './chain.js';
export type { ChainProgress } from './chain-watch.js';
export { ChainWatch } from './chain-watch.js';
export { combinedLine, escapeCombined } from './combined.js';
export type { AuditHealth, AuditPipelineOptions } from './pipeline.js';
export { AuditPipeline, QUEUE_LIMIT_FACTOR } from './pipeline.js';
export type { RecordAttempt, RequestRecord } from './record.js';
export { buildRequestRecord, REQUEST_SCHEMA } from './record.js';
export type { Redaction } from './redact.js';
export { captureHeaders, REDACTED, redactQuery } from './redact.js';
export { serializeRequestRecord } from './serialize.js';
export type { VerifyResult } from './verify.js';
export { loadCheckpoints, verifyChain } from './verify.js';
