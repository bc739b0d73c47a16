/**
 * Admin and security events (schema `tollgate.admin/1`). Health, admin, alerts and the app emit
 * them to an injected EventSink; the app routes them into the audit trail.
 */
export interface AdminEvent {
  action: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  /** Who did it: a token name, `local-operator` for signals, `tollgate` for Tollgate itself. */
  actor: string;
  roles: string[];
  sourceAddress: string | null;
  method: string | null;
  path: string | null;
  diff: unknown;
  /** Extra facts (pool, backend, …). */
  labels: Record<string, string | number | boolean | null>;
  /** Set only for an event recorded elsewhere first (the CLI's pending events): its `event.id`. */
  id?: string;
  /** Likewise: when it happened, epoch ms. */
  at?: number;
}

export interface EventSink {
  emit(event: AdminEvent): void;
}

export function systemEvent(
  action: string,
  outcome: 'success' | 'failure',
  reason: string | null,
  labels: AdminEvent['labels'] = {},
  actor = 'tollgate',
): AdminEvent {
  return {
    action,
    outcome,
    reason,
    actor,
    roles: [],
    sourceAddress: null,
    method: null,
    path: null,
    diff: null,
    labels,
  };
}
