export type { AdminRecord } from './admin-record.js';
export { ADMIN_SCHEMA, buildAdminRecord } from './admin-record.js';
export type { CanaryDeps, CanaryResult, CanarySent, CanaryTarget } from './canary.js';
export { CanaryRunner } from './canary.js';
export type { CentralChain, CentralRow } from './central-store.js';
export { CentralStore } from './central-store.js';
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
export type { Report, ReportFormat, ReportOptions, ReviewSection } from './report/index.js';
export {
  buildReport,
  DurationHistogram,
  htmlText,
  mdText,
  PERCENTILE_RELATIVE_ERROR,
  plain,
  REPORT_FORMATS,
  REPORT_SCHEMA,
  renderReport,
  SLOW_RULE,
  SpaceSaving,
} from './report/index.js';
export { serializeRequestRecord } from './serialize.js';
export type { TrailGap, VerifyResult } from './verify.js';
export { loadCheckpoints, VERIFY_LOG, verifyChain } from './verify.js';
