import { randomUUID } from 'node:crypto';
import type { AdminEvent, AdminRecordView } from '../core/index.js';
import { isoMicros } from '../core/index.js';

export const ADMIN_SCHEMA = 'tollgate.admin/1';

/** A `tollgate.admin/1` record (SPEC §3): who did what, from where, with what result. */
export type AdminRecord = AdminRecordView;

export function buildAdminRecord(e: AdminEvent, instance: string, nowMs: number): AdminRecord {
  return {
    schema: ADMIN_SCHEMA,
    '@timestamp': isoMicros(e.at ?? nowMs),
    event: { id: e.id ?? randomUUID(), action: e.action, outcome: e.outcome, reason: e.reason },
    user: { name: e.actor, roles: e.roles },
    source: { address: e.sourceAddress },
    http: { request: { method: e.method } },
    url: { path: e.path },
    tollgate: { diff: e.diff ?? null, labels: e.labels, instance, chain: { seq: null, hash: null } },
  };
}
