import type { BlockList } from 'node:net';
import { isIP, isIPv6 } from 'node:net';

/**
 * The real client behind trusted proxies. X-Forwarded-For and Forwarded (RFC 7239) are believed
 * only when the TCP peer is in `trusted_proxies`; then the chain is walked from the right, past
 * every trusted hop, and the first untrusted address is the client (HAProxy's and Envoy's
 * `xff_num_trusted_hops`-free rule).
 */
export interface ClientAddress {
  address: string;
  port: number | null;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIPv6(ip) ? 'ipv6' : 'ipv4';
}

export function isTrusted(trusted: BlockList | null, ip: string): boolean {
  if (trusted === null) return false;
  try {
    return trusted.check(ip, family(ip));
  } catch {
    return false;
  }
}

/** Strips an IPv4-mapped prefix ("::ffff:1.2.3.4" → "1.2.3.4"). */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.indexOf('.') !== -1 ? ip.slice(7) : ip;
}

function cleanXffEntry(entry: string): string {
  let s = entry.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    return end === -1 ? s : s.slice(1, end);
  }
  // "1.2.3.4:5678" → "1.2.3.4" (an IPv6 address has more than one colon)
  const colon = s.indexOf(':');
  if (colon !== -1 && s.indexOf(':', colon + 1) === -1) s = s.slice(0, colon);
  return s;
}

/** An IP address in one spelling (lower-case IPv6, IPv4-mapped unwrapped), or null if it is not one. */
function canonical(hop: string): string | null {
  const kind = isIP(hop);
  if (kind === 0) return null;
  return kind === 6 ? normalizeIp(hop.toLowerCase()) : hop;
}

/** Parses the `for=` parameters of a Forwarded header, in order. */
export function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      out.push(cleanXffEntry(v));
    }
  }
  return out;
}

export function resolveClient(
  peerAddress: string,
  peerPort: number | null,
  trusted: BlockList | null,
  xff: string | undefined,
  forwarded: string | undefined,
): ClientAddress {
  if (trusted === null || !isTrusted(trusted, peerAddress)) return { address: peerAddress, port: peerPort };
  let hops: string[] | null = null;
  if (forwarded !== undefined) hops = forwardedFor(forwarded);
  else if (xff !== undefined) hops = xff.split(',').map(cleanXffEntry);
  if (hops === null || hops.length === 0) return { address: peerAddress, port: peerPort };
  for (let i = hops.length - 1; i >= 0; i--) {
    // an entry that is not an IP address (obfuscated `_x`, `unknown`, garbage) ends the walk: believe only the peer
    const hop = canonical(hops[i]!);
    if (hop === null) return { address: peerAddress, port: peerPort };
    if (!isTrusted(trusted, hop)) return { address: hop, port: null };
  }
  return { address: canonical(hops[0]!) ?? peerAddress, port: null };
}
