#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isTollgateError } from '../core/index.js';
import { checkCommand } from './check.js';
import { startCommand } from './start.js';

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
  .option('--drain-timeout <duration>', 'how long SIGTERM waits for in-flight requests', '30s')
  .action(startCommand);

program
  .command('check')
  .description('validate a config file; prints FILE:LINE:COL path: message per problem')
  .requiredOption('-c, --config <file>', 'config file')
  .action(checkCommand);

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
