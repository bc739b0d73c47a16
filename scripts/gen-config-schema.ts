/**
 * Writes schema/config.schema.json, the JSON Schema of the config file, for editors
 * (yaml-language-server: `# yaml-language-server: $schema=./schema/config.schema.json`).
 * Run: node --import tsx scripts/gen-config-schema.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/index.js';

const target = fileURLToPath(new URL('../schema/config.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
