import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * Addresses as the config writes them: `host:port` (IPv4 or a DNS name) or `[v6]:port`,
 * and the IP/CIDR entries of `trusted_proxies`. Each parser returns the parts or a message.
 */

export interface HostPort {
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const EXAMPLE = 'like 127.0.0.1:8080 or [::1]:8080';

/** `allowZero`: port 0 means "pick a free port" (listeners and the admin API). */
export function parseAddress(text: string, allowZero: boolean): HostPort | string {
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]]+):(\d+)$/.exec(text);
  const m = bracketed ?? plain;
  if (m === null) {
    const hint =
      isIPv6(text.replace(/:\d+$/, '')) || isIPv6(text) ? ' (write IPv6 addresses in brackets)' : '';
    return `expected an address ${EXAMPLE}, got ${JSON.stringify(text)}${hint}`;
  }
  const host = m[1]!;
  if (bracketed !== null ? !isIPv6(host) : !(isIPv4(host) || HOSTNAME.test(host))) {
    return `${JSON.stringify(host)} is not an IP address or host name (expected an address ${EXAMPLE})`;
  }
  const port = Number(m[2]);
  const min = allowZero ? 0 : 1;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    return `port must be between ${min} and 65535, got ${m[2]}`;
  }
  return { host, port };
}

export function isHostName(text: string): boolean {
  return HOSTNAME.test(text);
}

export interface Subnet {
  readonly network: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `::1/128`, or a single address (a full-length prefix). */
export function parseSubnet(text: string): Subnet | string {
  const [network = '', prefixText, extra] = text.split('/');
  const version = isIP(network);
  const bad = `expected an IP address or CIDR range like 10.0.0.0/8, got ${JSON.stringify(text)}`;
  if (version === 0 || extra !== undefined) return bad;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { network, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `prefix length must be between 0 and ${max}, got ${JSON.stringify(prefixText)}`;
  }
  return { network, prefix: Number(prefixText), family };
}

/** Whether two listening addresses would collide (port 0 never collides; wildcards cover all). */
export function addressesOverlap(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  return a.host.toLowerCase() === b.host.toLowerCase() || covers(a.host, b.host) || covers(b.host, a.host);
}

/** `::` takes the port on every address (dual stack); `0.0.0.0` on every IPv4 address. */
function covers(wildcard: string, host: string): boolean {
  return wildcard === '::' || (wildcard === '0.0.0.0' && !isIPv6(host));
}
