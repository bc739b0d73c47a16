import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { ErrorCode, parseDuration, TollgateError } from '../core/index.js';

/** The baseline shipped with Tollgate: PCI DSS v4.0.1 requirement 10 (baseline/pci-dss-v4.yaml). */
export const DEFAULT_BASELINE = fileURLToPath(new URL('../../baseline/pci-dss-v4.yaml', import.meta.url));

const duration = z.string().refine(
  (t) => {
    try {
      parseDuration(t);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected a duration like 24h or 365d' },
);

const check = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject({ enabled: z.boolean().default(true), requirement: z.string().min(1), ...shape }).optional();

const baselineSchema = z.strictObject({
  name: z.string().min(1),
  checks: z.strictObject({
    chain: check({
      key_mode: z
        .string()
        .regex(/^0?[0-7]{3}$/)
        .default('0600'),
    }),
    redaction: check({
      headers: z.array(z.string()).default([]),
      query_params: z.array(z.string()).default([]),
    }),
    off_machine: check({ allow_loopback: z.boolean().default(false) }),
    retention: check({ min: duration }),
    alerts: check({ rules: z.array(z.string()).min(1) }),
    admin_transport: check({}),
    token_lifetime: check({ max: duration }),
    clock: check({}),
    verify: check({ max_age: duration }),
    canaries: check({ window: duration }),
  }),
});

export type Baseline = z.output<typeof baselineSchema>;
export type CheckId = keyof Baseline['checks'];

/** Reads and validates a baseline file; a bad one is one clear error naming the file and the key. */
export function loadBaseline(file: string | null): { file: string; baseline: Baseline } {
  const path = file ?? DEFAULT_BASELINE;
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new TollgateError(
      ErrorCode.CONFIG_READ,
      `cannot read the review baseline ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { source: 'config' },
    );
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new TollgateError(ErrorCode.CONFIG_INVALID, `review baseline ${path}: ${(err as Error).message}`, {
      source: 'config',
    });
  }
  const r = baselineSchema.safeParse(data);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new TollgateError(
      ErrorCode.CONFIG_INVALID,
      `review baseline ${path}: ${first.path.join('.') || '(top)'}: ${first.message}`,
      { source: 'config' },
    );
  }
  return { file: path, baseline: r.data };
}
