/**
 * What one host's data plane should hold: the control plane's model cut down
 * to the networks that have ports on the host. The server builds it
 * (src/processes/dataplane/host-plan.ts) and answers it with the desired
 * state; instance work carries the part one instance needs, so a create works
 * with no server up. Plain JSON: it travels over NATS and is kept on disk.
 */
import type { SecurityRule } from './security-rule';
import type { RouterPlan } from './router-plan';

export type NetworkType = 'vxlan' | 'vlan' | 'flat' | 'bridge';
export type PortLinkStatus = 'ACTIVE' | 'DOWN' | 'ERROR';
/** How an instance holds its port: a tap QEMU opens, or a veth whose peer is in a container's network namespace. */
export type PortDeviceKind = 'tap' | 'veth';

export interface PortPlan {
  readonly id: string;
  readonly networkId: string;
  readonly subnetId: string;
  readonly instanceId: string;
  readonly mac: string;
  /** '' for a port with no address. */
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly mtu: number;
  /** The port's subnet's DNS servers, for a guest told its network statically (no DHCP to hand them out); absent = none. */
  readonly dnsServers?: readonly string[];
  /** The groups whose rules apply: the port's own, or the tenant's implicit `default` group. */
  readonly securityGroups: readonly string[];
  readonly bindingType: string;
  readonly hostname: string;
  /**
   * Set by the agent, which knows the runtime of its instances (absent: the
   * driver keeps the kind it realised the port with, else a tap).
   */
  readonly device?: PortDeviceKind;
  /**
   * Realised here for an instance moving here (Neutron's inactive binding), or one that
   * moved here before its port's binding followed: the host makes it and does not report
   * it (the port's bound node does).
   */
  readonly inactive?: true;
  /** What the control plane last heard from the host (so a host reports only changes). */
  readonly reported?: { readonly status: PortLinkStatus; readonly deviceName: string; readonly reason: string };
}

export interface DhcpPlan {
  readonly subnetId: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly dnsServers: readonly string[];
  /** The host's DHCP port on the subnet (its address is the server's); undefined until the control plane made it. */
  readonly port?: { readonly id: string; readonly mac: string; readonly ip: string; readonly reported?: PortPlan['reported'] };
}

export interface RemotePort {
  readonly mac: string;
  readonly ip: string;
  /** The tunnel IP of the host that has it. */
  readonly vtep: string;
}

export interface NetworkPlan {
  readonly id: string;
  readonly type: NetworkType;
  readonly vni: number;
  readonly vlanId: number;
  readonly mtu: number;
  /** metadata.annotations["hypervisor.physical-network"], `default` when absent. */
  readonly physicalNetwork: string;
  /** Other hosts with ports on the network (VXLAN flood entries). */
  readonly remoteVteps: readonly string[];
  /** Ports on other hosts (VXLAN unicast entries, as l2population makes them). */
  readonly remotePorts: readonly RemotePort[];
  readonly dhcp: readonly DhcpPlan[];
}

export interface SecurityGroupPlan {
  readonly id: string;
  readonly rules: readonly SecurityRule[];
  /** Addresses of every port in the group, on any host: the set remote_group_id rules match. */
  readonly members: { readonly v4: readonly string[]; readonly v6: readonly string[] };
}

export interface HostPlan {
  readonly networks: readonly NetworkPlan[];
  readonly ports: readonly PortPlan[];
  readonly securityGroups: readonly SecurityGroupPlan[];
  /** Routers placed on this host (issue 11, router-plan.ts); absent = none. */
  readonly routers?: readonly RouterPlan[];
}

export const EMPTY_PLAN: HostPlan = { networks: [], ports: [], securityGroups: [] };

/** Plans joined; for the same id the later one wins. */
export const mergePlans = (...plans: HostPlan[]): HostPlan => {
  const by = <T extends { id: string }>(lists: (readonly T[])[]) => [...new Map(lists.flat().map((x) => [x.id, x])).values()];
  return {
    networks: by(plans.map((p) => p.networks)),
    ports: by(plans.map((p) => p.ports)),
    securityGroups: by(plans.map((p) => p.securityGroups)),
    routers: by(plans.map((p) => p.routers ?? [])),
  };
};

/** The implicit group of ports that name none (Neutron's per-project `default`). */
export const defaultGroupId = (tenantId: string) => `default:${tenantId || 'none'}`;
