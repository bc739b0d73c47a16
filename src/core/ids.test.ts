import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRequestId, parseTraceParent } from './ids.js';

describe('ids', () => {
  it('request ids are 32 hex digits, unique, and sort by creation time', () => {
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(newRequestId());
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, ids.length);
    const prefixes = ids.map((id) => id.slice(0, 12));
    assert.deepEqual(prefixes, [...prefixes].sort(), 'the time prefix never goes backwards');
    assert.ok(Math.abs(Number.parseInt(ids[0]!.slice(0, 12), 16) - Date.now()) < 5000);
  });

  it('parses a valid traceparent and refuses malformed or all-zero ones', () => {
    assert.deepEqual(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    });
    for (const bad of [
      undefined,
      '',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x',
    ]) {
      assert.equal(parseTraceParent(bad), null, String(bad));
    }
  });
});
