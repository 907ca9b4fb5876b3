import { InvalidArgument } from '../../errors';
import { clip } from '../../domain/validate';
import { parseCidr } from '../../domain/ipam/cidr';
import { optionalToken, requireToken } from '../network/fields';
import type { Direction, EtherType, SecurityRule } from './state';

const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const ETHER_TYPES: readonly EtherType[] = ['IPv4', 'IPv6'];

/** Names for the protocol numbers that have one here; the rest stay numbers. */
const NAMED: Record<EtherType, Record<string, string>> = {
  IPv4: { '1': 'icmp', '6': 'tcp', '17': 'udp' },
  IPv6: { '58': 'icmp', '6': 'tcp', '17': 'udp' },
};

const protocolOf = (text: string, etherType: EtherType): string => {
  const p = text.trim().toLowerCase();
  if (p === '' || p === 'any') return 'any';
  if (p === 'tcp' || p === 'udp' || p === 'icmp') return p;
  if (p === 'icmpv6' || p === 'ipv6-icmp') {
    if (etherType !== 'IPv6') throw new InvalidArgument(`protocol: ${p} needs ether_type IPv6`);
    return 'icmp';
  }
  if (/^\d{1,3}$/.test(p) && Number(p) <= 255) {
    const n = String(Number(p));
    return NAMED[etherType][n] ?? n;
  }
  throw new InvalidArgument(`protocol: "${clip(text)}" is not tcp, udp, icmp, any or a protocol number 0..255`);
};

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/**
 * Checks a rule and puts it in canonical form (so duplicates are found
 * whatever spelling was used). Port ranges apply to tcp and udp only;
 * port_range_min alone means one port; 0/0 means every port.
 */
export const normalizeRule = (r: SecurityRule): SecurityRule => {
  requireToken('rule_id', r.id);
  if (!DIRECTIONS.includes(r.direction)) throw new InvalidArgument(`direction: "${String(r.direction)}" is not ingress or egress`);
  if (!ETHER_TYPES.includes(r.etherType)) throw new InvalidArgument(`ether_type: "${String(r.etherType)}" is not IPv4 or IPv6`);
  const protocol = protocolOf(r.protocol, r.etherType);
  let [min, max] = [r.portRangeMin, r.portRangeMax];
  if (protocol === 'tcp' || protocol === 'udp') {
    if (min === 0 && max !== 0) throw new InvalidArgument('port_range_min: is required when port_range_max is set');
    if (min !== 0) {
      if (max === 0) max = min;
      if (!isPort(min)) throw new InvalidArgument(`port_range_min: ${min} is not a port (1-65535)`);
      if (!isPort(max)) throw new InvalidArgument(`port_range_max: ${max} is not a port (1-65535)`);
      if (min > max) throw new InvalidArgument(`port_range_min: ${min} is above port_range_max ${max}`);
    }
  } else if (min !== 0 || max !== 0) {
    throw new InvalidArgument(`port_range_min: only tcp and udp rules take a port range, not ${protocol}`);
  }
  if (r.remoteIpPrefix && r.remoteGroupId)
    throw new InvalidArgument('remote_group_id: give remote_ip_prefix or remote_group_id, not both');
  const remoteIpPrefix = r.remoteIpPrefix ? parseCidr('remote_ip_prefix', r.remoteIpPrefix, r.etherType === 'IPv4' ? 4 : 6).text : '';
  optionalToken('remote_group_id', r.remoteGroupId);
  return {
    id: r.id,
    direction: r.direction,
    etherType: r.etherType,
    protocol,
    portRangeMin: min,
    portRangeMax: max,
    remoteIpPrefix,
    remoteGroupId: r.remoteGroupId,
  };
};

/** Two rules that match the same traffic, whatever their ids. */
export const sameMatch = (a: SecurityRule, b: SecurityRule): boolean =>
  a.direction === b.direction &&
  a.etherType === b.etherType &&
  a.protocol === b.protocol &&
  a.portRangeMin === b.portRangeMin &&
  a.portRangeMax === b.portRangeMax &&
  a.remoteIpPrefix === b.remoteIpPrefix &&
  a.remoteGroupId === b.remoteGroupId;

/** The usual defaults for a new group: all egress allowed, for both ether types (ingress is denied unless a rule allows it). */
export const defaultRules = (ids: readonly string[]): SecurityRule[] =>
  (['IPv4', 'IPv6'] as const).map((etherType, i) => ({
    id: ids[i],
    direction: 'egress',
    etherType,
    protocol: 'any',
    portRangeMin: 0,
    portRangeMax: 0,
    remoteIpPrefix: '',
    remoteGroupId: '',
  }));
