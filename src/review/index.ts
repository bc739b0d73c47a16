/**
 * `tollgate review` (issue 11): the running configuration and state checked against a baseline
 * (by default PCI DSS v4.0.1 requirement 10), each check pass/fail with its reason and the
 * requirement it serves.
 */
export type { Baseline, CheckId } from './baseline.js';
export { DEFAULT_BASELINE, loadBaseline } from './baseline.js';
export type { ClockSync } from './clock-sync.js';
export { clockSync } from './clock-sync.js';
export { gatherReviewInput } from './gather.js';
export type { CanaryRun, CheckResult, ReviewInput, ReviewReport, TokenFacts, VerifyRun } from './review.js';
export { review, reviewText } from './review.js';
