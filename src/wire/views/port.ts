import { type Port, PortBindingType } from '../../gen/hypervisor/v1/network';
import type { BindingType, PortState } from '../../commands/port/state';

const BINDING: Record<BindingType, PortBindingType> = {
  unspecified: PortBindingType.PORT_BINDING_UNSPECIFIED,
  ovs: PortBindingType.PORT_BINDING_OVS,
  linux_bridge: PortBindingType.PORT_BINDING_LINUX_BRIDGE,
  vhost_user: PortBindingType.PORT_BINDING_VHOST_USER,
  sriov: PortBindingType.PORT_BINDING_SRIOV,
};

/**
 * The Port message; undefined before creation and after deletion. Status:
 * DOWN while unbound; once bound, BUILD until the node's data plane reports,
 * then what it reported (ACTIVE with its device, DOWN while the instance is
 * stopped, ERROR when it could not be realised), as Neutron shows it.
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
        nodeId: s.nodeId,
        deviceName: s.deviceName,
        securityGroups: s.securityGroups,
        adminState: s.adminState,
        status: !s.instanceId ? 'DOWN' : s.linkStatus || 'BUILD',
        bindingType: BINDING[s.bindingType],
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

export const bindingTypeFromProto = (t: PortBindingType): BindingType | undefined =>
  (Object.keys(BINDING) as BindingType[]).find((k) => BINDING[k] === t);
