import type { BindingType, DeviceOwner, PortLinkStatus } from './state';

export interface PortCreatedData {
  readonly networkId: string;
  readonly subnetId: string;
  readonly name: string;
  readonly macAddress: string;
  readonly ipAddress: string;
  readonly securityGroups: string[];
  readonly bindingType: BindingType;
  readonly adminState: boolean;
  readonly deviceOwner: DeviceOwner;
  readonly deviceId: string;
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
