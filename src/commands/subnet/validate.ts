import { requireHostname } from '../../domain/validate';
import { InvalidArgument } from '../../errors';
import { canonicalAddress, formatAddress } from '../../domain/ipam/address';
import { parseMac } from '../../domain/ipam/mac';
import { poolsToText, resolveLayout } from '../../domain/ipam/pools';
import { optionalText, optionalToken, requireToken } from '../network/fields';
import type { AllocateIpData, SubnetRequest } from './commands';
import type { SubnetCreatedData } from './events';
import { OWNER_KINDS } from './state';

export const MAX_DNS_SERVERS = 5;

/**
 * Everything CreateSubnet checks that needs no state, with defaults filled
 * in. The caller runs it first: its canonical `cidr` is what network
 * AddSubnet claims.
 */
export const resolveSubnet = (r: SubnetRequest): SubnetCreatedData => {
  requireToken('network_id', r.networkId);
  optionalText('name', r.name);
  const layout = resolveLayout(r);
  const v = layout.cidr.version;
  if (r.dnsServers.length > MAX_DNS_SERVERS)
    throw new InvalidArgument(`dns_servers: ${r.dnsServers.length} servers, at most ${MAX_DNS_SERVERS}`);
  const dnsServers = r.dnsServers.map((d, i) => canonicalAddress(`dns_servers[${i}]`, d));
  dnsServers.forEach((d, i) => {
    if (dnsServers.indexOf(d) !== i) throw new InvalidArgument(`dns_servers[${i}]: ${d} is listed twice`);
  });
  return {
    networkId: r.networkId,
    name: r.name,
    cidr: layout.cidr.text,
    ipVersion: v,
    gatewayIp: formatAddress(v, layout.gateway),
    dnsServers,
    allocationPools: poolsToText(v, layout.pools),
    enableDhcp: r.enableDhcp,
  };
};

/** The allocation's own fields (the address is checked against the subnet in decide). */
export const validateAllocation = (d: AllocateIpData): { macAddress: string } => {
  requireToken('allocation_id', d.allocationId);
  if (!OWNER_KINDS.includes(d.owner.kind)) throw new InvalidArgument(`owner: "${String(d.owner.kind)}" is not an owner kind`);
  if (d.owner.kind === 'user') {
    if (d.owner.id) throw new InvalidArgument('owner: a user allocation has no owner id');
  } else requireToken('owner.id', d.owner.id);
  optionalToken('port_id', d.portId);
  optionalToken('instance_id', d.instanceId);
  optionalToken('network_id', d.networkId);
  if (d.hostname) requireHostname('hostname', d.hostname);
  return { macAddress: d.macAddress ? parseMac('mac_address', d.macAddress) : '' };
};
