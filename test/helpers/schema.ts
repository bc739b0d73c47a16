import fs from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { RequestRecord } from '../../src/audit/index.js';

const schema = JSON.parse(
  fs.readFileSync(new URL('../../schema/tollgate.request-1.schema.json', import.meta.url), 'utf8'),
);
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Throws if a record does not match the shipped `tollgate.request/1` JSON Schema. */
export function assertValidRecord(record: unknown): asserts record is RequestRecord {
  if (!validate(record)) {
    throw new Error(
      `record does not match tollgate.request/1: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(record)}`,
    );
  }
}
