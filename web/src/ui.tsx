import type { ComponentChildren } from 'preact';
import { ApiFailure } from './api.js';

/** Clear states: loading, failed (with what to do), and nothing to show (with why). */

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" aria-busy="true">
      Loading {what}…
    </p>
  );
}

function advice(err: Error): string {
  if (err instanceof ApiFailure) {
    if (err.status === 0) return 'Check that Tollgate is running and reachable; the page retries on its own.';
    if (err.status === 403) return 'Your token’s role does not allow this.';
    if (err.status === 429)
      return 'This address is locked out after bad tokens; wait for the lockout to end.';
    if (err.status === 503 || err.status >= 500)
      return 'Tollgate could not answer; see its log. The page retries on its own.';
  }
  return 'The page retries on its own.';
}

export function Failed({ error, what }: { error: Error; what: string }) {
  return (
    <div class="state failed" role="alert">
      <strong>Could not load {what}.</strong> {error.message} <span class="muted">{advice(error)}</span>
    </div>
  );
}

/**
 * The state line of a polled resource: its error (shown above the last good data, which stays),
 * or "Loading" before its first answer; nothing once it has data and no error.
 */
export function PollState({
  of,
  what,
  loading = what,
}: {
  of: { data: unknown; error: Error | null };
  what: string;
  loading?: string;
}) {
  if (of.error !== null) return <Failed error={of.error} what={what} />;
  if (of.data === null) return <Loading what={loading} />;
  return null;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function Badge({
  kind,
  children,
  title,
}: {
  kind: string;
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`badge ${kind}`} title={title}>
      {children}
    </span>
  );
}

export function Card({
  title,
  actions,
  children,
  id,
}: {
  title: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-head">
        <h2 id={id}>{title}</h2>
        {actions !== undefined && <div class="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** A row of toggle buttons (a radio group that reads as buttons). */
export function Segmented<T extends string>({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: T;
  options: readonly (readonly [T, string])[];
  onChange: (v: T) => void;
}) {
  return (
    <fieldset class="segmented">
      <legend class="sr-only">{label}</legend>
      {options.map(([v, text]) => (
        <button type="button" key={v} aria-pressed={v === value} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </fieldset>
  );
}

export function Stat({ label, value, hint }: { label: string; value: ComponentChildren; hint?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {hint !== undefined && <div class="stat-hint">{hint}</div>}
    </div>
  );
}
