#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isTollgateError } from '../core/index.js';
import { checkCommand } from './check.js';
import { explainCommand } from './explain.js';
import { queryCommand } from './query.js';
import { reportCommand } from './report.js';
import { reviewCommand } from './review.js';
import { startCommand } from './start.js';
import { tailCommand } from './tail.js';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand, tokenRoleCommand } from './token.js';
import { verifyCommand } from './verify.js';

/**
 * `tollgate` — argv → command. A user mistake (bad flag, invalid config, port in use) is one
 * clear line on stderr and a non-zero exit; never a stack trace.
 */
const program = new Command()
  .name('tollgate')
  .description('An HTTP load balancer in which every decision is on the record.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program
  .command('start')
  .description('run the load balancer (SIGHUP reloads the config, SIGTERM/SIGINT drain and stop)')
  .option('-c, --config <file>', 'config file', 'tollgate.yaml')
  .option('--demo', 'run three demo backends and a demo config on loopback')
  .option('--listen <address>', 'with --demo: the proxy listener address', '127.0.0.1:8080')
  .option('--admin <address>', 'with --demo: the admin API address', '127.0.0.1:9090')
  .option('--drain-timeout <duration>', 'how long SIGTERM waits for in-flight requests', '30s')
  .action(startCommand);

program
  .command('check')
  .description('validate a config file; prints FILE:LINE:COL path: message per problem')
  .requiredOption('-c, --config <file>', 'config file')
  .action(checkCommand);

const storeOptions = (c: Command) =>
  c
    .option('--data <dir>', 'data directory (default ./tollgate-data)')
    .option('-c, --config <file>', "use this config's data_dir");

storeOptions(
  program
    .command('query')
    .description('search the audit store (newest first)')
    .option('--since <when>', 'a duration ago (1h, 30m, 7d) or a date')
    .option('--until <when>', 'a duration ago or a date')
    .option('--status <status>', '404, or a class: 5xx')
    .option('--client-ip <ip>', 'an address or a CIDR range')
    .option('--user <name>', 'the identified user')
    .option('--route <name>', 'route name')
    .option('--backend <name>', 'backend name')
    .option('--termination <code>', 'termination code')
    .option('--request-id <id>', 'request id')
    .option('--format <format>', 'table, json (one record per line) or csv', 'table')
    .option('--limit <n>', 'at most this many records', '100')
    .option('--store <url>', "a fleet's central store (postgres://…) instead of the data dir's")
    .option('--table <name>', 'with --store: the records table', 'tollgate_records'),
).action(queryCommand);

storeOptions(
  program.command('explain').description('the whole story of one request').argument('<request-id>'),
).action((id: string, o) => explainCommand(id, o));

storeOptions(
  program
    .command('report')
    .description(
      'a review of a window from the store: traffic, errors, clients, slow backends, admin, auth, alerts, audit health',
    )
    .option('--since <when>', 'start: a duration ago (24h, 30m, 7d) or a date', '24h')
    .option('--until <when>', 'end: a duration ago or a date (default now)')
    .option('--format <format>', 'md, json or html', 'md')
    .option('--top <n>', 'rows in the top-client lists', '10')
    .option('--verify', 'also verify the chain and its signed checkpoints (exit 1 when it does not hold)'),
).action((o) => reportCommand(o));

program
  .command('review')
  .description(
    'check the config and the audit state against a compliance baseline (default PCI DSS v4 requirement 10); exit 1 on any failed check',
  )
  .requiredOption('-c, --config <file>', 'the config Tollgate runs with')
  .option('--baseline <file>', 'the baseline (default: review.baseline, else the shipped PCI DSS v4 one)')
  .option('--format <format>', 'text or json', 'text')
  .action((o) => reviewCommand(o));

storeOptions(
  program
    .command('verify')
    .description(
      'check the tamper-evident chain, its signed checkpoints and the heartbeats; exit 1 naming the first bad seq or a gap',
    )
    .option('--quiet', 'no progress on stderr')
    .option('--allow-gaps', 'list heartbeat gaps but exit 0 for them')
    .option('--no-record', 'do not append the result to <data_dir>/verify.jsonl')
    .option('--store <url>', "a fleet's central store (postgres://…): check each instance's chain there")
    .option('--instance <name>', 'with --store: only this instance')
    .option('--table <name>', 'with --store: the records table', 'tollgate_records'),
).action(verifyCommand);

const filterOptions = (c: Command) =>
  c
    .option('--since <when>', 'a duration ago (1h, 30m, 7d) or a date')
    .option('--until <when>', 'a duration ago or a date')
    .option('--status <status>', '404, or a class: 5xx')
    .option('--client-ip <ip>', 'an address or a CIDR range')
    .option('--user <name>', 'the identified user')
    .option('--route <name>', 'route name')
    .option('--backend <name>', 'backend name')
    .option('--termination <code>', 'termination code')
    .option('--request-id <id>', 'request id');

filterOptions(
  program
    .command('tail')
    .description('follow live records through the admin API (Server-Sent Events; resumes after a disconnect)')
    .option('--admin <url>', 'admin API URL (or TOLLGATE_ADMIN_URL)')
    .option('--token <token>', 'admin token (or TOLLGATE_TOKEN)')
    .option('--events', 'admin events too')
    .option('--format <format>', 'table or json (one record per line)', 'table'),
).action(tailCommand);

const token = program.command('token').description('admin API tokens (stored only as hashes)');
storeOptions(
  token
    .command('create')
    .description('create a token and print it once')
    .requiredOption('--name <name>', 'token name (the actor on every admin event)')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .option('--ttl <duration>', 'expires after this long (8h, 30d); default never')
    .option('--json', 'print {"name","role","token","expires"}'),
).action(tokenCreateCommand);
storeOptions(
  token.command('list').description('tokens: name, role, state, expiry').option('--json', 'JSON lines'),
).action(tokenListCommand);
storeOptions(token.command('revoke').description('revoke a token').argument('<name>')).action(
  (name: string, o) => tokenRevokeCommand(name, o),
);
storeOptions(
  token
    .command('role')
    .description("change a token's role (a privilege event)")
    .argument('<name>')
    .argument('<role>'),
).action((name: string, role: string, o) => tokenRoleCommand(name, role, o));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (isTollgateError(err)) {
    for (const line of err.message.split('\n')) process.stderr.write(`tollgate: ${line}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `tollgate: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 70;
  }
}
