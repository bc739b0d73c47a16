/**
 * A Selector picks the next backend of a pool for one request (DESIGN rule 6: a small interface,
 * a registry by config name, one contract test for every implementation).
 *
 * Selectors never know health rules: the caller's `SelectionView.eligible(i)` says whether
 * candidate i may be chosen now (healthy, not draining, not ejected, under max_connections and
 * not already tried by this request). `select` is called again for each retry; it must then
 * return a different eligible index, or -1 when none is left. It must not allocate per call
 * beyond constant work, and must be deterministic given `view.random`.
 */
export interface Candidate {
  readonly name: string;
  readonly weight: number;
  /** Requests in flight to this backend right now. */
  readonly inflight: number;
  /** Exponentially weighted moving average of attempt latency in ms (0 when unknown). */
  readonly ewmaMs: number;
}

export interface SelectionView {
  /** The pool's backends, in config order; the same array (same indexes) for the plan's lifetime. */
  readonly candidates: readonly Candidate[];
  eligible(index: number): boolean;
  /** For consistent_hash: the request's hash key (client IP, header or cookie value), or null. */
  readonly hashKey: string | null;
  /** A number in [0, 1). */
  random(): number;
}

export interface Selector {
  /** Index into `view.candidates`, or -1 when no candidate is eligible. */
  select(view: SelectionView): number;
}

export interface SelectorOptions {
  /** Backends with name and weight, in config order (same indexes as `SelectionView.candidates`). */
  readonly backends: readonly { readonly name: string; readonly weight: number }[];
}

export type SelectorFactory = (options: SelectorOptions) => Selector;
