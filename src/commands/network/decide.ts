import { AlreadyExists, FailedPrecondition, InvalidArgument } from '../../errors';
import { overlaps, parseCidr } from '../../domain/ipam/cidr';
import type { NetworkCommand } from './commands';
import type { NetworkCreatedData, NetworkEvent } from './events';
import { createAgain, deletable, list, requireActive, requireToken, sameJson } from './fields';
import type { NetworkState } from './state';
import { IPV6_MIN_MTU, resolveMtu, validateNetworkSpec } from './validate';

export const decide = (cmd: NetworkCommand, s: NetworkState): NetworkEvent[] => {
  switch (cmd.type) {
    case 'CreateNetwork': {
      const d = cmd.data;
      validateNetworkSpec(d);
      const data: NetworkCreatedData = {
        name: d.name,
        kind: d.kind,
        vni: d.vni,
        vlanId: d.vlanId,
        mtu: resolveMtu(d.kind, d.mtu),
        adminState: true,
        shared: d.shared,
        external: d.external,
        tenantId: d.tenantId,
        labels: d.labels,
        annotations: d.annotations,
      };
      if (s.status !== 'absent') return createAgain('network', s, sameJson(data, created(s)));
      return [{ type: 'NetworkCreated', data }];
    }
    case 'DeleteNetwork': {
      if (!deletable('network', s)) return [];
      const subnets = Object.keys(s.subnets);
      if (subnets.length > 0)
        throw new FailedPrecondition(`network ${s.id} still has ${subnets.length} subnet(s) (${list(subnets)}); delete them first`);
      if (s.ports.size > 0)
        throw new FailedPrecondition(`network ${s.id} still has ${s.ports.size} port(s) (${list([...s.ports.keys()])}); delete them first`);
      return [{ type: 'NetworkDeleted', data: { kind: s.kind, vni: s.vni, vlanId: s.vlanId } }];
    }
    case 'AddSubnet': {
      const { subnetId } = cmd.data;
      requireToken('subnet_id', subnetId);
      requireActive('network', s);
      const cidr = parseCidr('cidr', cmd.data.cidr);
      const held = Object.hasOwn(s.subnets, subnetId) ? s.subnets[subnetId] : undefined;
      if (held !== undefined) {
        if (held === cidr.text) return []; // redelivered
        throw new AlreadyExists(`subnet ${subnetId} is already on network ${s.id} with cidr ${held}`);
      }
      for (const [other, text] of Object.entries(s.subnets))
        if (overlaps(cidr, parseCidr('cidr', text)))
          throw new AlreadyExists(`cidr: ${cidr.text} overlaps ${text} of subnet ${other} on network ${s.id}`);
      if (cidr.version === 6 && s.mtu < IPV6_MIN_MTU)
        throw new FailedPrecondition(`network ${s.id} has mtu ${s.mtu}; an IPv6 subnet needs at least ${IPV6_MIN_MTU}`);
      return [{ type: 'SubnetAdded', data: { subnetId, cidr: cidr.text } }];
    }
    case 'RemoveSubnet':
      return Object.hasOwn(s.subnets, cmd.data.subnetId) ? [{ type: 'SubnetRemoved', data: { subnetId: cmd.data.subnetId } }] : [];
    case 'AddPort': {
      requireToken('port_id', cmd.data.portId);
      if (s.ports.has(cmd.data.portId)) return []; // redelivered
      requireActive('network', s);
      return [{ type: 'PortAdded', data: { portId: cmd.data.portId } }];
    }
    case 'RemovePort':
      return s.ports.has(cmd.data.portId) ? [{ type: 'PortRemoved', data: { portId: cmd.data.portId } }] : [];
    default:
      throw new InvalidArgument(`unknown network command ${(cmd as { type: string }).type}`);
  }
};

const created = (s: NetworkState): NetworkCreatedData => ({
  name: s.name,
  kind: s.kind,
  vni: s.vni,
  vlanId: s.vlanId,
  mtu: s.mtu,
  adminState: s.adminState,
  shared: s.shared,
  external: s.external,
  tenantId: s.tenantId,
  labels: s.labels,
  annotations: s.annotations,
});
