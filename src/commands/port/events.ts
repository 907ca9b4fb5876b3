import type { PortLinkStatus } from './state';
import type { PortSpec } from './commands';

/** The port as decided: the spec and its admin state. */
export interface PortCreatedData extends Omit<PortSpec, 'securityGroups'> {
  readonly securityGroups: string[];
  readonly adminState: boolean;
}

export type PortEvent =
  | { type: 'PortCreated'; data: PortCreatedData }
  /** Carries what the caller releases next: security groups, address, MAC, network reference. */
  | {
      type: 'PortDeleted';
      data: { networkId: string; subnetId: string; macAddress: string; ipAddress: string; securityGroups: string[] };
    }
  | { type: 'PortBound'; data: { instanceId: string; nodeId: string; deviceName: string } }
  | { type: 'PortUnbound'; data: { instanceId: string; nodeId: string } }
  | { type: 'PortStatusReported'; data: { nodeId: string; status: PortLinkStatus; deviceName: string; reason: string } }
  | { type: 'FloatingIpAttached'; data: { floatingIpId: string; fixedIp: string } }
  | { type: 'FloatingIpDetached'; data: { floatingIpId: string } };
