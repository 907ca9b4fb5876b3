/**
 * The routers one host's data plane holds (issue 11): part of its HostPlan
 * (`routers`), built by the control plane for the node each router is placed
 * on (src/processes/dataplane/router-plans.ts). Plain JSON, as the rest of
 * the plan.
 */

/** An address with its prefix length, as it goes on an interface. */
export interface RouterAddress {
  readonly ip: string;
  readonly prefixLength: number;
}

/** One router interface: the subnet's gateway address on the network's bridge, with its port's MAC. */
export interface RouterInterfacePlan {
  readonly portId: string;
  readonly networkId: string;
  readonly mac: string;
  readonly address: RouterAddress;
  readonly mtu: number;
}

/** The router's leg on the external (flat or VLAN) network. */
export interface RouterGatewayPlan {
  readonly networkId: string;
  /** Derived from the router id (the gateway has no port), so it is the same on whichever node the router runs. */
  readonly mac: string;
  readonly addresses: readonly RouterAddress[];
  /** The external subnet's gateway: the router's default route ('' = none). */
  readonly nexthop: string;
  readonly enableSnat: boolean;
  readonly mtu: number;
}

/** 1:1 NAT between a floating IP (on the gateway) and a port's fixed IP (behind an interface). */
export interface FloatingIpPlan {
  readonly id: string;
  readonly reported?: RealisedReport;
  readonly floatingIp: string;
  readonly fixedIp: string;
}

/** What a router's node last reported of it (ACTIVE, or ERROR with the reason), so the agent reports only a change. */
export type RealisedStatus = 'ACTIVE' | 'ERROR';
export interface RealisedReport {
  readonly status: RealisedStatus | '';
  readonly reason: string;
}

export interface RouterPlan {
  readonly id: string;
  readonly reported?: RealisedReport;
  readonly interfaces: readonly RouterInterfacePlan[];
  readonly gateway?: RouterGatewayPlan;
  readonly routes: readonly { readonly destination: string; readonly nexthop: string }[];
  readonly floatingIps: readonly FloatingIpPlan[];
}
