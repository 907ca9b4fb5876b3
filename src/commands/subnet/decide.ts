import { FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { formatAddress, parseAddress } from '../../domain/ipam/address';
import { checkRequested, firstFreeExcept } from '../../domain/ipam/allocate';
import { contains } from '../../domain/ipam/cidr';
import { createAgain, deletable, requireActive, sameJson } from '../network/fields';
import type { SubnetCommand } from './commands';
import type { SubnetCreatedData, SubnetEvent } from './events';
import type { Allocation, SubnetState } from './state';
import { resolveSubnet, validateAllocation } from './validate';

export const decide = (cmd: SubnetCommand, s: SubnetState): SubnetEvent[] => {
  switch (cmd.type) {
    case 'CreateSubnet': {
      const data = resolveSubnet(cmd.data);
      if (s.status !== 'absent') return createAgain('subnet', s, sameJson(data, created(s)));
      return [{ type: 'SubnetCreated', data }];
    }
    case 'DeleteSubnet': {
      if (!deletable('subnet', s)) return [];
      const first = s.allocations.first();
      if (first)
        throw new FailedPrecondition(
          `subnet ${s.id} still has ${s.allocations.size} allocated address(es) (e.g. ${first[1].ipAddress} of ${holder(first[1])}); release them first`,
        );
      return [{ type: 'SubnetDeleted', data: { networkId: s.networkId } }];
    }
    case 'AllocateIp': {
      const d = cmd.data;
      if (s.byId.has(d.allocationId)) return []; // redelivered: allocated already
      const { macAddress } = validateAllocation(d);
      requireActive('subnet', s);
      const layout = s.layout!;
      if (d.networkId && d.networkId !== s.networkId)
        throw new InvalidArgument(`subnet_id: subnet ${s.id} is on network ${s.networkId}, not ${d.networkId}`);
      const value = d.ipAddress
        ? checkRequested(layout, s.allocations, d.ipAddress, {
            field: 'ip_address',
            subnet: label(s),
            allowGateway: d.owner.kind === 'router_interface',
          })
        : firstFreeExcept(layout.pools, s.allocations, dnsAddresses(s));
      if (value === undefined) throw new ResourceExhausted(`${label(s)} has no free address in its allocation pools`);
      return [
        {
          type: 'IpAllocated',
          data: {
            allocationId: d.allocationId,
            ipAddress: formatAddress(layout.cidr.version, value),
            macAddress,
            instanceId: d.instanceId,
            portId: d.portId,
            hostname: d.hostname,
            owner: d.owner,
          },
        },
      ];
    }
    case 'ReleaseIp': {
      const { ipAddress, allocationId } = cmd.data;
      if (s.status === 'absent') throw new NotFound(`subnet ${s.id} not found`);
      if (allocationId) {
        // Undo of AllocateIp: release that allocation if it is still there.
        const at = s.byId.get(allocationId);
        const a = at === undefined ? undefined : s.allocations.get(at);
        if (!a || (ipAddress && a.ipAddress !== canonical(s, ipAddress))) return [];
        return [released(a)];
      }
      requireActive('subnet', s);
      const { value } = parseAddress('ip_address', ipAddress, s.ipVersion);
      if (!contains(s.layout!.cidr, s.ipVersion, value)) throw new InvalidArgument(`ip_address: ${formatAddress(s.ipVersion, value)} is outside ${label(s)}`);
      const a = s.allocations.get(value);
      if (!a) throw new NotFound(`ip_address: ${formatAddress(s.ipVersion, value)} is not allocated in ${label(s)}`);
      if (a.owner.kind !== 'user')
        throw new FailedPrecondition(`ip_address: ${a.ipAddress} belongs to ${holder(a)}; it is released when that is deleted`);
      return [released(a)];
    }
    default:
      throw new InvalidArgument(`unknown subnet command ${(cmd as { type: string }).type}`);
  }
};

const released = (a: Allocation): SubnetEvent => ({
  type: 'IpReleased',
  data: { allocationId: a.id, ipAddress: a.ipAddress, portId: a.portId, owner: a.owner },
});

const canonical = (s: SubnetState, ip: string) => {
  try {
    return formatAddress(s.ipVersion, parseAddress('ip_address', ip, s.ipVersion).value);
  } catch {
    return ip;
  }
};

const label = (s: SubnetState) => `subnet ${s.id} (${s.cidr})`;

const holder = (a: Allocation) =>
  a.owner.kind === 'user' ? `allocation ${a.id}` : `${a.owner.kind.replace('_', ' ')} ${a.owner.id}`;

const created = (s: SubnetState): SubnetCreatedData => ({
  networkId: s.networkId,
  name: s.name,
  cidr: s.cidr,
  ipVersion: s.ipVersion,
  gatewayIp: s.gatewayIp,
  dnsServers: s.dnsServers,
  allocationPools: s.allocationPools,
  enableDhcp: s.enableDhcp,
});

/** The subnet's DNS servers inside it: automatic allocation passes them over (the README's `--dns 10.0.0.2` is not the first port's address). */
const dnsAddresses = (s: SubnetState): Set<bigint> => {
  const out = new Set<bigint>();
  for (const d of s.dnsServers) {
    try {
      out.add(parseAddress('dns_nameservers', d, s.ipVersion).value);
    } catch {
      // another family, or not an address: nothing to pass over
    }
  }
  return out;
};
