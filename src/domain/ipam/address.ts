import ipaddr from 'ipaddr.js';
import { InvalidArgument } from '../../errors';
import { clip } from '../validate';

export type IpVersion = 4 | 6;

/**
 * An address as a number: IPAM does arithmetic (next address, ranges, sorted
 * sets) on BigInt so one code path serves IPv4 and IPv6 without ever
 * enumerating an address space.
 */
export interface Address {
  readonly version: IpVersion;
  readonly value: bigint;
}

export const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

const toBigInt = (bytes: readonly number[]): bigint => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);

const toBytes = (version: IpVersion, value: bigint): number[] => {
  const n = version === 4 ? 4 : 16;
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
};

const versionWord = (v: IpVersion) => (v === 4 ? 'IPv4' : 'IPv6');

/** Parses an address ipaddr.js accepts in its strict forms: four-part decimal IPv4, IPv6 without a zone. */
export const parseIp = (text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (ipaddr.IPv6.isValid(text)) {
    const a = ipaddr.IPv6.parse(text);
    return a.zoneId ? undefined : a;
  }
  return undefined;
};

/** An IP address in text, checked; `version` restricts it to one family. */
export const parseAddress = (field: string, text: string, version?: IpVersion): Address => {
  if (!text) throw new InvalidArgument(`${field}: is required`);
  const ip = parseIp(text);
  if (!ip) throw new InvalidArgument(`${field}: "${clip(text)}" is not an IPv4 or IPv6 address`);
  const v: IpVersion = ip.kind() === 'ipv4' ? 4 : 6;
  if (version && v !== version)
    throw new InvalidArgument(`${field}: ${text} is an ${versionWord(v)} address; ${versionWord(version)} is needed here`);
  return { version: v, value: toBigInt(ip.toByteArray()) };
};

export const isAddress = (text: string): boolean => parseIp(text) !== undefined;

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
export const formatAddress = (version: IpVersion, value: bigint): string =>
  ipaddr.fromByteArray(toBytes(version, value)).toString();

/** The canonical text of a valid address (e.g. `2001:DB8:0::1` → `2001:db8::1`). */
export const canonicalAddress = (field: string, text: string, version?: IpVersion): string => {
  const a = parseAddress(field, text, version);
  return formatAddress(a.version, a.value);
};

export { toBigInt as bytesToBigInt, versionWord };
