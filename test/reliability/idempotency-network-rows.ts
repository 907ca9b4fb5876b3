import { randomUUID } from 'node:crypto';
import { type Network, SecurityRuleDirection, type Subnet } from '../../src/gen/hypervisor/v1/network';
import type { Net } from '../network/support';

export type Rpc = () => Promise<unknown>;
export interface Row {
  /** The request, given what setup made; `other` is another request to the same target (absent: the method has no other). */
  setup: () => Promise<{ same: Rpc; other?: Rpc }>;
  /** Fields of the answer that move on by themselves between the first call and the retry. */
  volatile?: string[];
}

/** What the NetworkService rows make their targets with (read when a row runs: the client exists by then). */
export interface NetworkKit {
  readonly n: Net;
  topology(): Promise<{ net: Network; subnet: Subnet }>;
  external(): Promise<{ ext: Network; sub: Subnet }>;
}

/** idempotency.test.ts's rows for every write method of NetworkService. */
export const networkRows = (k: NetworkKit): Record<string, Row> => ({
  'NetworkService.CreateNetwork': {
    setup: async () => ({ same: () => k.n.network({ name: 'first' }), other: () => k.n.network({ name: 'second' }) }),
  },
  'NetworkService.CreateSubnet': {
    setup: async () => {
      const net = await k.n.network({ name: `s-${randomUUID().slice(0, 6)}` });
      return { same: () => k.n.subnet(net.id, '10.201.1.0/24'), other: () => k.n.subnet(net.id, '10.201.2.0/24') };
    },
  },
  'NetworkService.AllocateIP': {
    setup: async () => {
      const { subnet } = await k.topology();
      const at = (ip: string) => () => k.n.rpc('allocateIp', { subnetId: subnet.id, ipAddress: ip });
      return { same: at(subnet.cidr.replace(/0\/24$/, '10')), other: at(subnet.cidr.replace(/0\/24$/, '11')) };
    },
  },
  'NetworkService.ReleaseIP': {
    setup: async () => {
      const { subnet } = await k.topology();
      const ip = (last: number) => subnet.cidr.replace(/0\/24$/, String(last));
      await k.n.rpc('allocateIp', { subnetId: subnet.id, ipAddress: ip(20) });
      await k.n.rpc('allocateIp', { subnetId: subnet.id, ipAddress: ip(21) });
      return { same: () => k.n.rpc('releaseIp', { subnetId: subnet.id, ipAddress: ip(20) }), other: () => k.n.rpc('releaseIp', { subnetId: subnet.id, ipAddress: ip(21) }) };
    },
  },
  'NetworkService.CreatePort': {
    setup: async () => {
      const { net } = await k.topology();
      return { same: () => k.n.port(net.id, { name: 'first' }), other: () => k.n.port(net.id, { name: 'second' }) };
    },
  },
  'NetworkService.BindPort': {
    setup: async () => {
      const { net } = await k.topology();
      const p = await k.n.port(net.id);
      return {
        same: () => k.n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1', deviceName: 'tap1' }),
        other: () => k.n.rpc('bindPort', { portId: p.id, instanceId: 'inst-2', deviceName: 'tap2' }),
      };
    },
  },
  'NetworkService.UnbindPort': {
    setup: async () => {
      const { net } = await k.topology();
      const p = await k.n.port(net.id);
      await k.n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1' });
      return { same: () => k.n.rpc('unbindPort', { portId: p.id }) };
    },
  },
  'NetworkService.DeletePort': {
    setup: async () => {
      const { net } = await k.topology();
      const p = await k.n.port(net.id);
      return { same: () => k.n.rpc('deletePort', { portId: p.id }) };
    },
  },
  'NetworkService.CreateSecurityGroup': {
    setup: async () => ({ same: () => k.n.group({ name: 'first' }), other: () => k.n.group({ name: 'second' }) }),
  },
  'NetworkService.AddSecurityRule': {
    setup: async () => {
      const g = await k.n.group({ name: `g-${randomUUID().slice(0, 6)}` });
      const rule = (port: number) => () => k.n.rpc('addSecurityRule', { securityGroupId: g.id, direction: SecurityRuleDirection.SECURITY_RULE_DIRECTION_INGRESS, protocol: 'tcp', portRangeMin: port, portRangeMax: port });
      return { same: rule(22), other: rule(80) };
    },
  },
  'NetworkService.RemoveSecurityRule': {
    setup: async () => {
      const g = await k.n.group({ name: `g-${randomUUID().slice(0, 6)}` });
      const add = (port: number) => k.n.rpc('addSecurityRule', { securityGroupId: g.id, direction: SecurityRuleDirection.SECURITY_RULE_DIRECTION_INGRESS, protocol: 'tcp', portRangeMin: port, portRangeMax: port });
      const [a, b] = [(await add(22)).rule!, (await add(80)).rule!];
      return {
        same: () => k.n.rpc('removeSecurityRule', { securityGroupId: g.id, ruleId: a.id }),
        other: () => k.n.rpc('removeSecurityRule', { securityGroupId: g.id, ruleId: b.id }),
      };
    },
  },
  'NetworkService.DeleteSecurityGroup': {
    setup: async () => {
      const g = await k.n.group({ name: `g-${randomUUID().slice(0, 6)}` });
      return { same: () => k.n.rpc('deleteSecurityGroup', { securityGroupId: g.id }) };
    },
  },
  'NetworkService.CreateRouter': {
    setup: async () => ({ same: () => k.n.rpc('createRouter', { name: 'first' }), other: () => k.n.rpc('createRouter', { name: 'second' }) }),
  },
  'NetworkService.AddRouterInterface': {
    setup: async () => {
      const [{ subnet: a }, { subnet: b }] = [await k.topology(), await k.topology()];
      const r = (await k.n.rpc('createRouter', { name: 'ri' })).router!;
      return { same: () => k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: a.id }), other: () => k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: b.id }) };
    },
  },
  'NetworkService.RemoveRouterInterface': {
    setup: async () => {
      const [{ subnet: a }, { subnet: b }] = [await k.topology(), await k.topology()];
      const r = (await k.n.rpc('createRouter', { name: 'ri' })).router!;
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: a.id });
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: b.id });
      return { same: () => k.n.rpc('removeRouterInterface', { routerId: r.id, subnetId: a.id }), other: () => k.n.rpc('removeRouterInterface', { routerId: r.id, subnetId: b.id }) };
    },
  },
  'NetworkService.AddRoute': {
    setup: async () => {
      const { subnet } = await k.topology();
      const r = (await k.n.rpc('createRouter', { name: 'rr' })).router!;
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const hop = subnet.cidr.replace(/0\/24$/, '5');
      return {
        same: () => k.n.rpc('addRoute', { routerId: r.id, destination: '172.16.1.0/24', nexthop: hop }),
        other: () => k.n.rpc('addRoute', { routerId: r.id, destination: '172.16.2.0/24', nexthop: hop }),
      };
    },
  },
  'NetworkService.RemoveRoute': {
    setup: async () => {
      const { subnet } = await k.topology();
      const r = (await k.n.rpc('createRouter', { name: 'rr' })).router!;
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const hop = subnet.cidr.replace(/0\/24$/, '5');
      await k.n.rpc('addRoute', { routerId: r.id, destination: '172.16.1.0/24', nexthop: hop });
      await k.n.rpc('addRoute', { routerId: r.id, destination: '172.16.2.0/24', nexthop: hop });
      return {
        same: () => k.n.rpc('removeRoute', { routerId: r.id, destination: '172.16.1.0/24' }),
        other: () => k.n.rpc('removeRoute', { routerId: r.id, destination: '172.16.2.0/24' }),
      };
    },
  },
  'NetworkService.DeleteRouter': {
    setup: async () => {
      const r = (await k.n.rpc('createRouter', { name: 'rd' })).router!;
      return { same: () => k.n.rpc('deleteRouter', { routerId: r.id }) };
    },
  },
  'NetworkService.CreateFloatingIP': {
    setup: async () => {
      const [{ ext: a }, { ext: b }] = [await k.external(), await k.external()];
      return { same: () => k.n.rpc('createFloatingIp', { floatingNetworkId: a.id }), other: () => k.n.rpc('createFloatingIp', { floatingNetworkId: b.id }) };
    },
  },
  'NetworkService.AssociateFloatingIP': {
    setup: async () => {
      const { ext } = await k.external();
      const { net, subnet } = await k.topology();
      const r = (await k.n.rpc('createRouter', { name: 'fr', externalGateway: { networkId: ext.id } })).router!;
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const [p1, p2] = [await k.n.port(net.id, { name: 'p1' }), await k.n.port(net.id, { name: 'p2' })];
      const fip = (await k.n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
      return {
        same: () => k.n.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: p1.id }),
        other: () => k.n.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: p2.id }),
      };
    },
  },
  'NetworkService.DisassociateFloatingIP': {
    setup: async () => {
      const { ext } = await k.external();
      const { net, subnet } = await k.topology();
      const r = (await k.n.rpc('createRouter', { name: 'fr', externalGateway: { networkId: ext.id } })).router!;
      await k.n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const p = await k.n.port(net.id, { name: 'p1' });
      const fip = (await k.n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
      await k.n.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: p.id });
      return { same: () => k.n.rpc('disassociateFloatingIp', { floatingIpId: fip.id }) };
    },
  },
  'NetworkService.DeleteFloatingIP': {
    setup: async () => {
      const { ext } = await k.external();
      const fip = (await k.n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
      return { same: () => k.n.rpc('deleteFloatingIp', { floatingIpId: fip.id }) };
    },
  },
  'NetworkService.DeleteSubnet': {
    setup: async () => {
      const { subnet } = await k.topology();
      return { same: () => k.n.rpc('deleteSubnet', { subnetId: subnet.id }) };
    },
  },
  'NetworkService.DeleteNetwork': {
    setup: async () => {
      const net = await k.n.network({ name: `d-${randomUUID().slice(0, 6)}` });
      return { same: () => k.n.rpc('deleteNetwork', { networkId: net.id }) };
    },
  },
});
