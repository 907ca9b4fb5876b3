import type { BindingType, DeviceOwner, PortLinkStatus } from './state';

export interface PortSpec {
  readonly networkId: string;
  readonly subnetId: string;
  readonly name: string;
  /** Reserved in mac_address first. */
  readonly macAddress: string;
  /** Allocated in the subnet first (with allocationId = the port id); '' when subnetId is ''. */
  readonly ipAddress: string;
  /** Each attached in its security_group first. */
  readonly securityGroups: readonly string[];
  readonly bindingType: BindingType;
  readonly deviceOwner: DeviceOwner;
  readonly deviceId: string;
}

export type PortCommand =
  | { type: 'CreatePort'; data: PortSpec }
  /** asOwner: the router deleting its interface port; '' from the API, which may not delete a router's port. */
  | { type: 'DeletePort'; data: { asOwner: string } }
  | { type: 'BindPort'; data: { instanceId: string; nodeId: string; deviceName: string } }
  /** instanceId: unbind only if bound to this instance ('' = whatever it is bound to). */
  | { type: 'UnbindPort'; data: { instanceId: string } }
  /** Step of AssociateFloatingIP: the port must hold fixedIp and have no floating IP yet. */
  | { type: 'AttachFloatingIp'; data: { floatingIpId: string; fixedIp: string } }
  /** The data plane of the node the port is bound to says how the port is there (a report from another node is stale and ignored). */
  | { type: 'ReportPortStatus'; data: { nodeId: string; status: PortLinkStatus; deviceName: string; reason: string } }
  /** After DisassociateFloatingIP (or to undo AttachFloatingIp). */
  | { type: 'DetachFloatingIp'; data: { floatingIpId: string } };
