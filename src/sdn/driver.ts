import type { DhcpPlan, HostPlan, PortPlan } from '../domain/host-plan';

/** What a port looks like on the host. */
export interface PortObserved {
  readonly device: string;
  /** The device exists and its carrier is up (QEMU holds the tap). */
  readonly up: boolean;
  /** Index of the device: the same after an agent restart means it was adopted, not made again. */
  readonly ifindex: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface ConvergeResult {
  /** Ports that could not be realised, with the reason (reported as ERROR). */
  readonly errors: ReadonlyMap<string, string>;
  /** Routers this node holds that it could not realise, with the reason (reported as ERROR, with their floating IPs). */
  readonly routerErrors?: ReadonlyMap<string, string>;
}

/** The NIC an instance gets for a port. */
export interface Nic {
  readonly device: string;
  readonly mac: string;
  readonly mtu: number;
  /** For a veth port: the network namespace (a path) holding its peer, which the container joins. */
  readonly netns?: string;
}

/**
 * A data-plane driver: realises the control plane's network model on one
 * host (src/domain/host-plan.ts). Everything is level-triggered and idempotent:
 * converge() compares what exists with the plan and changes only the
 * difference; what exists and matches is adopted as it is.
 */
export interface DataPlaneDriver {
  readonly kind: string;
  /** Port binding types this driver offers (model names: `linux_bridge`; `unspecified` means the default). */
  readonly bindingTypes: readonly string[];
  /** Throws FailedPrecondition naming what this host lacks for a port of the plan (binding type, physical interface). */
  check(plan: HostPlan): void;
  /** Makes the devices of these ports and their networks now (before the instance starts); returns their NICs. */
  ensurePorts(plan: HostPlan): Promise<Nic[]>;
  /**
   * Converges the host to the plan. prune: also remove what is ours and not
   * in the plan (only when the plan is the control plane's whole answer).
   */
  converge(plan: HostPlan, opts: { prune: boolean }): Promise<ConvergeResult>;
  /** The ports' devices, and the host's DHCP servers of these subnets, as they are now (one look at the host's links). */
  observe(ports: readonly PortPlan[], dhcp?: readonly DhcpPlan[]): Promise<PortsObserved>;
}

export interface PortsObserved {
  /** By port id. */
  readonly ports: Map<string, PortObserved>;
  /** By DHCP port id: up while the server runs on its device. */
  readonly dhcp: Map<string, PortObserved>;
}
