import { type Port, PortBindingType } from '../../gen/hypervisor/v1/network';
import { type BindingType, type PortState, realisedOn } from '../../commands/port/state';

const BINDING: Record<BindingType, PortBindingType> = {
  unspecified: PortBindingType.PORT_BINDING_UNSPECIFIED,
  ovs: PortBindingType.PORT_BINDING_OVS,
  linux_bridge: PortBindingType.PORT_BINDING_LINUX_BRIDGE,
  vhost_user: PortBindingType.PORT_BINDING_VHOST_USER,
  sriov: PortBindingType.PORT_BINDING_SRIOV,
};

/**
 * The Port message; undefined before creation and after deletion. Status:
 * DOWN while unbound; once bound (or, for a node's DHCP port, from its
 * creation), BUILD until the node's data plane reports, then what it
 * reported (ACTIVE with its device, DOWN while the instance is stopped,
 * ERROR when it could not be realised), as Neutron shows it. A DHCP port's
 * node is the node whose server it is.
 */
export const portToProto = (s: PortState): Port | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        networkId: s.networkId,
        subnetId: s.subnetId,
        macAddress: s.macAddress,
        ipAddress: s.ipAddress,
        instanceId: s.instanceId,
        nodeId: realisedOn(s),
        deviceName: s.deviceName,
        securityGroups: s.securityGroups,
        adminState: s.adminState,
        status: !realisedOn(s) ? 'DOWN' : s.linkStatus || 'BUILD',
        bindingType: BINDING[s.bindingType],
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

export const bindingTypeFromProto = (t: PortBindingType): BindingType | undefined =>
  (Object.keys(BINDING) as BindingType[]).find((k) => BINDING[k] === t);
