import type { Lifecycle } from '../network/fields';
import type { PortCreatedData } from './events';

export type BindingType = 'unspecified' | 'ovs' | 'linux_bridge' | 'vhost_user' | 'sriov';
export type PortLinkStatus = 'ACTIVE' | 'DOWN' | 'ERROR';
export const LINK_STATUSES: readonly PortLinkStatus[] = ['ACTIVE', 'DOWN', 'ERROR'];

export const BINDING_TYPES: readonly BindingType[] = ['unspecified', 'ovs', 'linux_bridge', 'vhost_user', 'sriov'];

/**
 * '' for ports a user or an instance owns; `router_interface` for a router's
 * port on a subnet (device id: the router); `network:dhcp` for a node's DHCP
 * server on a subnet (device id: the node), as Neutron names them.
 */
export type DeviceOwner = '' | 'router_interface' | 'network:dhcp';
export const DEVICE_OWNERS: readonly DeviceOwner[] = ['', 'router_interface', 'network:dhcp'];

/** The node a port is realised on: its instance's, or the node whose DHCP server it is ('' = none). */
export const realisedOn = (s: Pick<PortState, 'instanceId' | 'nodeId' | 'deviceOwner' | 'deviceId'>): string =>
  s.instanceId ? s.nodeId : s.deviceOwner === 'network:dhcp' ? s.deviceId : '';

/** What PortCreated recorded (subnetId '' for a port with no address; deviceId the router of a router_interface port), and its binding. */
export interface PortState extends PortCreatedData {
  readonly id: string;
  readonly status: Lifecycle;
  /** Binding: '' while unbound. */
  readonly instanceId: string;
  readonly nodeId: string;
  readonly deviceName: string;
  /** What the data plane of the bound node last reported ('' = nothing yet for this binding). */
  readonly linkStatus: PortLinkStatus | '';
  readonly linkReason: string;
  /** Floating IPs on this port's fixed address (a port with any cannot be deleted). */
  readonly floatingIps: string[];
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): PortState => ({
  id,
  status: 'absent',
  name: '',
  networkId: '',
  subnetId: '',
  macAddress: '',
  ipAddress: '',
  securityGroups: [],
  bindingType: 'unspecified',
  adminState: false,
  deviceOwner: '',
  deviceId: '',
  instanceId: '',
  nodeId: '',
  deviceName: '',
  linkStatus: '',
  linkReason: '',
  floatingIps: [],
});
