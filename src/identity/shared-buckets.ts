/**
 * A store of token buckets shared by every instance of a fleet (implemented on Redis by the fleet
 * module, docs/fleet.md). The rate limiter never waits on it per request: it leases a few tokens
 * at a time and asks again, in the background, when its lease runs low (docs/adr/0006-fleet.md).
 */
export interface SharedBuckets {
  /** False while the store is unreachable: limiters then use their local buckets. */
  readonly up: boolean;
  /**
   * Takes up to `want` tokens from the shared bucket `id` (rate per second, burst), refilled on
   * the store's own clock. Resolves with the tokens granted and, when fewer than `want`, the ms
   * until half of `want` (at most the burst) is there again; rejects when the store cannot be reached in time.
   */
  lease(id: string, ratePerSecond: number, burst: number, want: number): Promise<Lease>;
}

export interface Lease {
  readonly granted: number;
  readonly waitMs: number;
}
