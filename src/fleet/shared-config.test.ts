import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { changedLocalKeys, composeText, sharedPart } from './index.js';

const LOCAL = `data_dir: ./data
listeners: [ { name: public, address: 127.0.0.1:8081 } ]
routes: [ { name: mine, match: { path_prefix: / }, pool: p } ]
pools: [ { name: p, backends: [ { name: b, address: 127.0.0.1:9001 } ] } ]
admin: { address: 127.0.0.1:9091 }
fleet: { instance: edge-1 }
`;

describe('fleet shared config', () => {
  test('the shared part is routes, pools, audit and alerts only', () => {
    assert.deepEqual(Object.keys(sharedPart(LOCAL)), ['routes', 'pools']);
  });

  test("composing takes the shared keys from the fleet and everything else from the instance's file, in file order", () => {
    const shared = { routes: [{ name: 'fleet', match: { path_prefix: '/' }, pool: 'q' }], pools: [] };
    const text = composeText(LOCAL, shared);
    const data = parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(data), ['data_dir', 'listeners', 'routes', 'pools', 'admin', 'fleet']);
    assert.deepEqual(data.routes, shared.routes);
    assert.deepEqual(data.listeners, [{ name: 'public', address: '127.0.0.1:8081' }]);
    assert.match(text, /^# fleet config: routes, pools, audit, alerts come from etcd/);
  });

  test('a shared key the fleet does not have is absent, not taken from the file', () => {
    const data = parse(composeText(LOCAL, { pools: [] })) as Record<string, unknown>;
    assert.equal(data.routes, undefined);
  });

  test('changedLocalKeys names instance-local keys that differ, whatever the key order', () => {
    const reordered = `fleet: { instance: edge-1 }
admin: { address: 127.0.0.1:9091 }
listeners: [ { address: 127.0.0.1:8081, name: public } ]
data_dir: ./data
routes: []
`;
    assert.deepEqual(changedLocalKeys(LOCAL, reordered), []);
    assert.deepEqual(changedLocalKeys(LOCAL, LOCAL.replace('9091', '9092').replace('./data', './other')), [
      'data_dir',
      'admin',
    ]);
  });

  test('a text that is not a YAML mapping is a config error, not a crash', () => {
    assert.throws(() => sharedPart('- a\n- b\n'), {
      code: 'TG_ERR_CONFIG_INVALID',
      message: /not a mapping/,
    });
    assert.throws(() => composeText('a: [', {}), { code: 'TG_ERR_CONFIG_INVALID', message: /not YAML/ });
  });
});
