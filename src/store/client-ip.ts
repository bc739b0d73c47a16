import { BlockList, isIPv4, isIPv6, SocketAddress } from 'node:net';
import { ErrorCode, TollgateError } from '../core/index.js';

/**
 * The `--client-ip` filter: one address (an indexed equality on `client_ip`) or a CIDR range
 * (matched in JS with a BlockList, IPv4 and IPv6). An IPv4 range of /8 or longer also narrows the
 * index scan to the text prefix of its whole octets ("10.1.0.0/16" → client_ip in ["10.1.", "10.1/")),
 * so only that slice is checked in JS; this relies on the proxy recording IPv4 clients as dotted
 * quads (it unwraps IPv4-mapped IPv6, see `canonicalIp`).
 */
export type ClientIpMatch =
  | { readonly type: 'exact'; readonly address: string }
  | {
      readonly type: 'cidr';
      readonly list: BlockList;
      /** A [low, high) range of `client_ip` text every match lies in, or null (scan by the other filters). */
      readonly textRange: readonly [string, string] | null;
    };

/** The form the proxy records: IPv4 dotted quad (IPv4-mapped IPv6 unwrapped), IPv6 compressed lower-case. */
export function canonicalIp(ip: string): string {
  if (isIPv4(ip)) return ip;
  const v6 = new SocketAddress({ address: ip, family: 'ipv6' }).address;
  return v6.startsWith('::ffff:') && v6.includes('.') ? v6.slice(7) : v6;
}

function usage(text: string): TollgateError {
  return new TollgateError(
    ErrorCode.USAGE,
    `client IP filter "${text}" is neither an IP address nor a CIDR range (like 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32)`,
    { source: 'usage' },
  );
}

function ipv4TextRange(network: string, prefix: number): readonly [string, string] | null {
  const octets = Math.floor(prefix / 8);
  if (octets === 0) return null;
  const parts = network.split('.').map(Number);
  const masked = parts.map((p, i) => {
    if (i < octets) return p;
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return p & (0xff << (8 - bits)) & 0xff;
  });
  const head = `${masked.slice(0, octets).join('.')}.`;
  // '/' is the character after '.', so [head, head-with-'/'-for-'.') holds every text starting with head.
  return [head, `${head.slice(0, -1)}/`];
}

export function parseClientIp(text: string): ClientIpMatch {
  const value = text.trim();
  const slash = value.indexOf('/');
  if (slash === -1) {
    if (!isIPv4(value) && !isIPv6(value)) throw usage(text);
    return { type: 'exact', address: canonicalIp(value) };
  }
  const network = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  const family = isIPv4(network) ? 'ipv4' : isIPv6(network) ? 'ipv6' : null;
  if (family === null || !/^\d{1,3}$/.test(prefixText)) throw usage(text);
  const prefix = Number(prefixText);
  const bits = family === 'ipv4' ? 32 : 128;
  if (prefix > bits) throw usage(text);
  if (prefix === bits) return { type: 'exact', address: canonicalIp(network) };
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { type: 'cidr', list, textRange: family === 'ipv4' ? ipv4TextRange(network, prefix) : null };
}

export function cidrMatches(list: BlockList, ip: string): boolean {
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}
