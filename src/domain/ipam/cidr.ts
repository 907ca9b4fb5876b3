import ipaddr from 'ipaddr.js';
import { clip } from '../validate';
import { InvalidArgument } from '../../errors';
import { BITS, bytesToBigInt, formatAddress, type IpVersion, parseIp, versionWord } from './address';

/** A network in CIDR notation, with its first and last address as numbers. */
export interface Cidr {
  readonly version: IpVersion;
  readonly prefix: number;
  /** The network address (IPv6: the subnet-router anycast address). */
  readonly first: bigint;
  /** The last address (IPv4: broadcast). */
  readonly last: bigint;
  /** Canonical text, e.g. `10.0.0.0/24`, `2001:db8::/64`. */
  readonly text: string;
}

const SHAPE = /^([^/]+)\/(0|[1-9]\d{0,2})$/;

/**
 * Parses and checks a CIDR. Host bits must be zero: `10.0.0.5/24` is refused
 * (with the network it probably means) rather than silently widened, since a
 * typo there changes which addresses a subnet or a rule covers.
 */
export const parseCidr = (field: string, text: string, version?: IpVersion): Cidr => {
  if (!text) throw new InvalidArgument(`${field}: is required`);
  const bad = (why: string) => new InvalidArgument(`${field}: "${clip(text)}" is not a valid CIDR (${why})`);
  const m = SHAPE.exec(text);
  if (!m) throw bad('expected address/prefix length, e.g. 10.0.0.0/24 or 2001:db8::/64');
  const ip = parseIp(m[1]);
  if (!ip) throw bad(`${clip(m[1])} is not an IPv4 or IPv6 address`);
  const v: IpVersion = ip.kind() === 'ipv4' ? 4 : 6;
  const prefix = Number(m[2]);
  if (prefix > BITS[v]) throw bad(`an ${versionWord(v)} prefix length is 0 to ${BITS[v]}`);
  if (version && v !== version)
    throw new InvalidArgument(`${field}: ${text} is an ${versionWord(v)} network; ${versionWord(version)} is needed here`);
  const family = v === 4 ? ipaddr.IPv4 : ipaddr.IPv6;
  const normalized = `${ip.toString()}/${prefix}`;
  const first = bytesToBigInt(family.networkAddressFromCIDR(normalized).toByteArray());
  const last = bytesToBigInt(family.broadcastAddressFromCIDR(normalized).toByteArray());
  const canonical = `${formatAddress(v, first)}/${prefix}`;
  if (bytesToBigInt(ip.toByteArray()) !== first)
    throw new InvalidArgument(`${field}: "${clip(text)}" has host bits set; the network is ${canonical}`);
  return { version: v, prefix, first, last, text: canonical };
};

export const contains = (c: Cidr, version: IpVersion, value: bigint): boolean =>
  c.version === version && value >= c.first && value <= c.last;

export const overlaps = (a: Cidr, b: Cidr): boolean => a.version === b.version && a.first <= b.last && b.first <= a.last;

/**
 * The addresses a subnet may hand out: never the network address (for IPv6
 * the subnet-router anycast address, which Neutron also keeps back) and,
 * for IPv4, never the broadcast address.
 */
export const usableRange = (c: Cidr): { first: bigint; last: bigint } => ({
  first: c.first + 1n,
  last: c.version === 4 ? c.last - 1n : c.last,
});

export const size = (c: Cidr): bigint => c.last - c.first + 1n;
