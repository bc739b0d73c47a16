import type { AlertView } from '../alerts/index.js';
import type { AdminRecord, AuditHealth, RequestRecord } from '../audit/index.js';
import type { TopClient } from '../metrics/index.js';
import type { ReviewReport } from '../review/index.js';
import type {
  AdminRecordView,
  AlertItem,
  AuditHealthView,
  RequestRecordView,
  ReviewAnswer,
  TopClientView,
} from './api-types.js';

/**
 * Compile-time only: the wire types of api-types.ts (which imports nothing, for web/) must be
 * exactly the server's own. If a field is added or changed on one side only, `tsc` fails here.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

export type ApiTypesMatch = [
  Assert<Same<RequestRecord, RequestRecordView>>,
  Assert<Same<AdminRecord, AdminRecordView>>,
  Assert<Same<AuditHealth, AuditHealthView>>,
  Assert<Same<AlertView, AlertItem>>,
  Assert<Same<TopClient, TopClientView>>,
  Assert<Same<ReviewReport, ReviewAnswer>>,
];
