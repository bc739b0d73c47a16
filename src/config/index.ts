import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCode, TollgateError } from '../core/index.js';
import { type CompileContext, compileConfig } from './compile.js';
import { ConfigSource } from './load.js';
import type { RuntimePlan } from './plan.js';
import type { Finding, Problem } from './problem.js';
import { formatProblem } from './problem.js';
import { configSchema } from './schema.js';
import { fileErrorReason } from './tls-files.js';
import { validateConfig } from './validate.js';

export { JWT_ALGORITHMS } from './auth-files.js';
export type { ConfigChange } from './diff.js';
export { diffConfig } from './diff.js';
export type {
  AdminPlan,
  AlertsPlan,
  Algorithm,
  ApiKeyAuthPlan,
  ApiKeyEntry,
  AuditPlan,
  AuthPlan,
  BackendPlan,
  FleetPlan,
  HashKey,
  HealthCheckPlan,
  JwksDocument,
  JwtAuthPlan,
  ListenerLimits,
  ListenerPlan,
  MtlsAuthPlan,
  MtlsUserField,
  NotifierPlan,
  OutlierPlan,
  PoolPlan,
  RateLimitPlan,
  RetryPlan,
  RetryReason,
  RoutePlan,
  RuleKind,
  RulePlan,
  RuntimePlan,
  SinkPlan,
  TimeoutPlan,
  TlsPlan,
} from './plan.js';
export type { PathKey, Problem } from './problem.js';
export { formatPath, formatProblem } from './problem.js';
export type { Config, ConfigInput } from './schema.js';

/** A config that cannot be used; `problems` are what `tollgate check` prints. */
export class ConfigError extends TollgateError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], code: string = ErrorCode.CONFIG_INVALID) {
    super(code, problems.map(formatProblem).join('\n'), { source: 'config' });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Everything wrong with a config text, in file order (empty when it is valid). `file` is how
 * problems name the file; relative paths in the config start from its folder (or from the
 * working directory for names like '<inline>'). Reads the TLS files the config names.
 */
export function checkConfigText(text: string, file: string): Problem[] {
  return run(text, file).problems;
}

/** The RuntimePlan of a config text; throws ConfigError listing every problem. */
export function compileConfigText(text: string, file: string): RuntimePlan {
  const { plan, problems } = run(text, file);
  if (plan === null) throw new ConfigError(problems);
  return plan;
}

/** Reads and compiles a config file; an unreadable file is a ConfigError (TG_ERR_CONFIG_READ). */
export function loadConfigFile(path: string): RuntimePlan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const message = `cannot read ${resolve(path)}: ${fileErrorReason(err)}`;
    throw new ConfigError([{ file: path, line: 1, col: 1, path: '', message }], ErrorCode.CONFIG_READ);
  }
  return compileConfigText(text, path);
}

/** The JSON Schema of the config file (what a config may contain, before defaults). */
export function configJsonSchema(): object {
  return z.toJSONSchema(configSchema, { io: 'input' });
}

function run(text: string, file: string): { plan: RuntimePlan | null; problems: Problem[] } {
  const source = new ConfigSource(text, file);
  if (source.syntaxProblems.length > 0) return { plan: null, problems: [...source.syntaxProblems] };
  if (source.data === null || source.data === undefined) {
    return { plan: null, problems: [{ file, line: 1, col: 1, path: '', message: 'the config is empty' }] };
  }
  const validation = validateConfig(source.data);
  const findings: Finding[] = [...validation.findings];
  let plan: RuntimePlan | null = null;
  if (validation.config !== null) {
    const compiled = compileConfig(validation.config, context(text, file));
    findings.push(...compiled.findings);
    plan = compiled.plan;
  }
  const problems = findings.map((f) => source.problem(f)).sort((a, b) => a.line - b.line || a.col - b.col);
  return { plan: problems.length === 0 ? plan : null, problems };
}

function context(text: string, file: string): CompileContext {
  if (file.startsWith('<')) return { source: file, baseDir: process.cwd(), text };
  const source = resolve(file);
  return { source, baseDir: dirname(source), text };
}
