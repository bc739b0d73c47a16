import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, it } from 'node:test';
import { forwardedFor, resolveClient } from './client-address.js';

const trusted = new BlockList();
trusted.addSubnet('10.0.0.0', 8, 'ipv4');
trusted.addAddress('127.0.0.1', 'ipv4');

describe('resolveClient', () => {
  const cases: [string, string | undefined, string | undefined, string, string][] = [
    ['untrusted peer: headers ignored', '9.9.9.9, 8.8.8.8', undefined, '203.0.113.5', '203.0.113.5'],
    [
      'trusted peer: first untrusted hop from the right',
      '198.51.100.1, 203.0.113.9, 10.1.1.1',
      undefined,
      '127.0.0.1',
      '203.0.113.9',
    ],
    ['every hop trusted: the leftmost', '10.0.0.9, 10.0.0.8', undefined, '127.0.0.1', '10.0.0.9'],
    ['a port on an IPv4 hop is dropped', '203.0.113.9:4711', undefined, '127.0.0.1', '203.0.113.9'],
    ['IPv6 is written in lower case', '2001:DB8::7', undefined, '127.0.0.1', '2001:db8::7'],
    ['garbage ends the walk at the peer', 'not-an-ip', undefined, '127.0.0.1', '127.0.0.1'],
    [
      'Forwarded wins over X-Forwarded-For',
      '1.1.1.1',
      'for="[2001:db8::7]:4711";proto=https, for=10.0.0.5',
      '127.0.0.1',
      '2001:db8::7',
    ],
    [
      'an obfuscated Forwarded node ends the walk',
      undefined,
      'for=_hidden, for=10.0.0.5',
      '127.0.0.1',
      '127.0.0.1',
    ],
  ];
  for (const [name, xff, fwd, peer, want] of cases) {
    it(name, () => {
      assert.equal(resolveClient(peer, 1234, trusted, xff, fwd).address, want);
    });
  }

  it('parses quoted and bracketed Forwarded for= values', () => {
    assert.deepEqual(
      forwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"'),
      ['192.0.2.60', '2001:db8:cafe::17'],
    );
  });
});
