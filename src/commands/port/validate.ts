import { InvalidArgument } from '../../errors';
import { canonicalAddress } from '../../domain/ipam/address';
import { parseMac } from '../../domain/ipam/mac';
import { optionalText, optionalToken, requireToken } from '../network/fields';
import type { PortSpec } from './commands';
import type { PortCreatedData } from './events';
import { BINDING_TYPES, DEVICE_OWNERS } from './state';

export const MAX_SECURITY_GROUPS = 32;
const DEVICE_NAME = /^[^\s/]{1,64}$/;

/**
 * The request checks that need no state. The caller runs it before reserving
 * anything (with a placeholder MAC and no address if those are still to be
 * chosen), so a bad request never leaves reservations to undo.
 */
export const validatePortRequest = (d: PortSpec): void => {
  requireToken('network_id', d.networkId);
  optionalToken('subnet_id', d.subnetId);
  optionalText('name', d.name);
  if (d.macAddress) parseMac('mac_address', d.macAddress);
  if (d.ipAddress) {
    if (!d.subnetId) throw new InvalidArgument('ip_address: needs subnet_id (the subnet the address is allocated in)');
    canonicalAddress('ip_address', d.ipAddress);
  }
  if (d.securityGroups.length > MAX_SECURITY_GROUPS)
    throw new InvalidArgument(`security_groups: ${d.securityGroups.length} groups, at most ${MAX_SECURITY_GROUPS}`);
  d.securityGroups.forEach((g, i) => {
    requireToken(`security_groups[${i}]`, g);
    if (d.securityGroups.indexOf(g) !== i) throw new InvalidArgument(`security_groups[${i}]: ${g} is listed twice`);
  });
  if (!BINDING_TYPES.includes(d.bindingType)) throw new InvalidArgument(`binding_type: "${String(d.bindingType)}" is not a binding type`);
  if (!DEVICE_OWNERS.includes(d.deviceOwner))
    throw new InvalidArgument(`device_owner: "${String(d.deviceOwner)}" is not a device owner (router_interface, network:dhcp, or none)`);
  if (d.deviceOwner) requireToken('device_id', d.deviceId);
  else if (d.deviceId) throw new InvalidArgument('device_id: only a port with a device_owner (router_interface, network:dhcp) has a device id');
};

/** CreatePort itself: the MAC is reserved and, on a subnet, the address allocated. */
export const resolvePort = (d: PortSpec): PortCreatedData => {
  validatePortRequest(d);
  const macAddress = parseMac('mac_address', d.macAddress);
  if (d.subnetId && !d.ipAddress) throw new InvalidArgument('ip_address: allocate the port its address in the subnet before CreatePort');
  return {
    networkId: d.networkId,
    subnetId: d.subnetId,
    name: d.name,
    macAddress,
    ipAddress: d.ipAddress ? canonicalAddress('ip_address', d.ipAddress) : '',
    securityGroups: [...d.securityGroups],
    bindingType: d.bindingType,
    adminState: true,
    deviceOwner: d.deviceOwner,
    deviceId: d.deviceId,
  };
};

export const validateBinding = (d: { instanceId: string; nodeId: string; deviceName: string }): void => {
  requireToken('instance_id', d.instanceId);
  optionalToken('node_id', d.nodeId);
  if (d.deviceName && !DEVICE_NAME.test(d.deviceName))
    throw new InvalidArgument(`device_name: "${d.deviceName.slice(0, 64)}" is not a device name (no spaces or '/', at most 64)`);
};
