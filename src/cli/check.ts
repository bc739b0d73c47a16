import fs from 'node:fs';
import { checkConfigText, formatProblem } from '../config/index.js';

/** `tollgate check -c FILE`: exit 0 when valid, 1 with one line per problem otherwise. */
export function checkCommand(options: { config: string }): void {
  let text: string;
  try {
    text = fs.readFileSync(options.config, 'utf8');
  } catch (err) {
    process.stderr.write(
      `${options.config}:1:1: cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`,
    );
    process.exitCode = 1;
    return;
  }
  const problems = checkConfigText(text, options.config);
  if (problems.length === 0) {
    process.stdout.write(`${options.config}: ok\n`);
    return;
  }
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  process.exitCode = 1;
}
