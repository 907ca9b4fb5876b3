import dns from 'node:dns';
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidArgument, PermissionDenied } from '../errors';

/**
 * Addresses an image fetch may not reach unless an operator allows them:
 * the host itself (loopback), its link (link-local, where cloud metadata
 * services live), the unspecified and broadcast/multicast addresses, and the
 * metadata addresses clouds put elsewhere. A control plane that fetched
 * whatever a client names could be made to read its own metrics, a cloud's
 * credentials, or to scan ports.
 */
const BLOCKED_RANGES = new Set(['loopback', 'linkLocal', 'unspecified', 'broadcast', 'multicast']);
const METADATA = ['100.100.100.200', 'fd00:ec2::254'].map((a) => ipaddr.parse(a).toString());

export interface AddressPolicy {
  /** CIDRs that may be fetched from even though they are blocked by default (`--image-allow-cidr`). */
  readonly allowCidrs: readonly string[];
}

const normal = (ip: string): ipaddr.IPv4 | ipaddr.IPv6 => {
  const a = ipaddr.parse(ip);
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
};

/** Parses `--image-allow-cidr` values once; a bad one is refused at start, naming it. */
export const parseAllowCidrs = (cidrs: readonly string[]): [ipaddr.IPv4 | ipaddr.IPv6, number][] =>
  cidrs.map((c) => {
    try {
      return ipaddr.parseCIDR(c.includes('/') ? c : `${c}/${c.includes(':') ? 128 : 32}`);
    } catch {
      throw new InvalidArgument(`image-allow-cidr: "${c}" is not a CIDR`);
    }
  });

export class AddressGuard {
  private readonly allow: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  constructor(policy: AddressPolicy) {
    this.allow = parseAllowCidrs(policy.allowCidrs);
  }

  /** Why this address may not be fetched from, or undefined when it may. */
  refusal(ip: string): string | undefined {
    const a = normal(ip);
    if (this.allow.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits))) return undefined;
    if (METADATA.includes(a.toString())) return 'a cloud metadata address';
    const range = a.range();
    return BLOCKED_RANGES.has(range) ? `a ${range.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} address` : undefined;
  }

  /** Refuses a URL whose host is an address literal that may not be fetched from. */
  checkLiteral(url: URL): void {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!net.isIP(host)) return;
    const why = this.refusal(host);
    if (why) throw refused(url, host, why);
  }

  /**
   * A dns.lookup for http.request: resolves the name and refuses the
   * connection when ANY of its addresses may not be fetched from (a name
   * with one public and one loopback address is refused, so no choice the
   * client library makes can reach the host). Every connection, so every
   * redirect, goes through it.
   */
  readonly lookup = (hostname: string, options: LookupOneOptions | dns.LookupAllOptions, callback: (...a: never[]) => void): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      const cb = callback as unknown as (e: Error | null, a?: string | LookupAddress[], f?: number) => void;
      if (err) return cb(err);
      for (const a of addresses) {
        const why = this.refusal(a.address);
        if (why) return cb(new BlockedAddress(hostname, a.address, why));
      }
      if ((options as dns.LookupAllOptions).all) return cb(null, addresses);
      cb(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** Raised inside a connection attempt; the fetcher turns it into PERMISSION_DENIED. */
export class BlockedAddress extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly why: string,
  ) {
    super(`${host} resolves to ${address}, ${why}`);
    this.name = 'BlockedAddress';
  }
}

export const refused = (url: URL, address: string, why: string): PermissionDenied => {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new PermissionDenied(
    `image ${url.href}: ${host === address ? `${address} is` : `${host} resolves to ${address},`} ${why}; images are not fetched from there unless the operator allows it (--image-allow-cidr)`,
  );
};
