import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

/**
 * DESIGN.md "Layout": imports point down only, and cross-module imports go through the other
 * module's index.ts. This reads the import lines of src/ and checks them against the allow-list.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  config: ['core'],
  store: ['core'],
  balancer: ['core', 'config'],
  health: ['core', 'config', 'balancer'],
  identity: ['core', 'config'],
  metrics: ['core', 'config'],
  audit: ['core', 'config', 'store'],
  proxy: ['core', 'config', 'balancer', 'health', 'identity'],
  alerts: ['core', 'config', 'metrics'],
  review: ['core', 'config', 'store', 'audit'],
  admin: ['core', 'config', 'store', 'audit', 'health', 'metrics', 'alerts', 'review'],
  fleet: ['core', 'config', 'identity', 'metrics'],
  cluster: ['core', 'config', 'health', 'identity', 'proxy'],
  app: [
    'core',
    'config',
    'store',
    'balancer',
    'health',
    'identity',
    'metrics',
    'audit',
    'proxy',
    'alerts',
    'review',
    'admin',
    'fleet',
    'cluster',
  ],
  cli: ['core', 'config', 'store', 'audit', 'app', 'admin', 'review'],
};

function* sourceFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) yield p;
  }
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/gm;

describe('architecture', () => {
  it('imports point down the module layers and enter other modules only through index.ts', () => {
    const problems: string[] = [];
    const src = path.resolve('src');
    for (const file of sourceFiles(src)) {
      const module = path.relative(src, file).split(path.sep)[0]!;
      assert.ok(
        module in ALLOWED,
        `${file}: unknown module folder "${module}" (add it to DESIGN.md and this test)`,
      );
      for (const m of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const target = path.resolve(path.dirname(file), m[1]!);
        const rel = path.relative(src, target).split(path.sep);
        const other = rel[0]!;
        if (other === module) continue;
        if (!ALLOWED[module]!.includes(other))
          problems.push(`${path.relative(src, file)} imports ${other} (not allowed for ${module})`);
        if (rel.length !== 2 || rel[1] !== 'index.js')
          problems.push(
            `${path.relative(src, file)} reaches into ${rel.join('/')} instead of ${other}/index.js`,
          );
      }
    }
    assert.deepEqual(problems, []);
  });
});
