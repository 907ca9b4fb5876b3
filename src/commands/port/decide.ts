import { AlreadyExists, FailedPrecondition, InvalidArgument } from '../../errors';
import { canonicalAddress } from '../../domain/ipam/address';
import { createAgain, deletable, list, requireActive, requireToken, sameJson } from '../network/fields';
import type { PortCommand } from './commands';
import type { PortCreatedData, PortEvent } from './events';
import { LINK_STATUSES, type PortState, realisedOn } from './state';
import { resolvePort, validateBinding } from './validate';

export const decide = (cmd: PortCommand, s: PortState): PortEvent[] => {
  switch (cmd.type) {
    case 'CreatePort': {
      const data = resolvePort(cmd.data);
      if (s.status !== 'absent') return createAgain('port', s, sameJson(data, created(s)));
      return [{ type: 'PortCreated', data }];
    }
    case 'DeletePort': {
      if (!deletable('port', s)) return [];
      if (s.deviceOwner && cmd.data.asOwner !== s.deviceId)
        throw new FailedPrecondition(
          s.deviceOwner === 'router_interface'
            ? `port ${s.id} is router ${s.deviceId}'s interface; remove the router interface instead`
            : `port ${s.id} is node ${s.deviceId}'s DHCP server; it goes when that node has no instance port on the network, or DHCP is turned off`,
        );
      if (s.instanceId) throw new FailedPrecondition(`port ${s.id} is bound to instance ${s.instanceId}; unbind it first`);
      if (s.floatingIps.length > 0)
        throw new FailedPrecondition(`port ${s.id} has floating IP(s) ${list(s.floatingIps)}; disassociate them first`);
      const { networkId, subnetId, macAddress, ipAddress, securityGroups } = s;
      return [{ type: 'PortDeleted', data: { networkId, subnetId, macAddress, ipAddress, securityGroups } }];
    }
    case 'BindPort': {
      const d = cmd.data;
      validateBinding(d);
      requireActive('port', s);
      if (s.deviceOwner) throw new FailedPrecondition(`port ${s.id} is ${ownerText(s)} and cannot be bound to an instance`);
      if (s.instanceId && s.instanceId !== d.instanceId)
        throw new FailedPrecondition(`port ${s.id} is already bound to instance ${s.instanceId}`);
      if (s.instanceId === d.instanceId && s.nodeId === d.nodeId && s.deviceName === d.deviceName) return []; // redelivered
      // Same instance on another node or device: the binding moves with it.
      return [{ type: 'PortBound', data: { instanceId: d.instanceId, nodeId: d.nodeId, deviceName: d.deviceName } }];
    }
    case 'UnbindPort': {
      requireActive('port', s);
      if (!s.instanceId || (cmd.data.instanceId && cmd.data.instanceId !== s.instanceId)) return [];
      return [{ type: 'PortUnbound', data: { instanceId: s.instanceId, nodeId: s.nodeId } }];
    }
    case 'ReportPortStatus': {
      const d = cmd.data;
      requireToken('node_id', d.nodeId);
      if (!LINK_STATUSES.includes(d.status)) throw new InvalidArgument(`status: "${String(d.status)}" is not ACTIVE, DOWN or ERROR`);
      const on = realisedOn(s);
      if (s.status !== 'active' || !on || on !== d.nodeId) return []; // the port moved or went: a stale report
      const reason = d.status === 'ERROR' ? d.reason.slice(0, 1024) : '';
      const deviceName = d.deviceName || s.deviceName;
      if (s.linkStatus === d.status && s.linkReason === reason && s.deviceName === deviceName) return [];
      return [{ type: 'PortStatusReported', data: { nodeId: d.nodeId, status: d.status, deviceName, reason } }];
    }
    case 'AttachFloatingIp': {
      const { floatingIpId } = cmd.data;
      requireToken('floating_ip_id', floatingIpId);
      requireActive('port', s);
      if (s.floatingIps.includes(floatingIpId)) return []; // redelivered
      if (s.deviceOwner) throw new FailedPrecondition(`port ${s.id} is ${ownerText(s)}; a floating IP goes to an instance's port`);
      if (!s.ipAddress) throw new FailedPrecondition(`port ${s.id} has no fixed IP to associate a floating IP with`);
      const fixedIp = cmd.data.fixedIp ? canonicalAddress('fixed_ip', cmd.data.fixedIp) : s.ipAddress;
      if (fixedIp !== s.ipAddress) throw new InvalidArgument(`fixed_ip: ${fixedIp} is not an address of port ${s.id} (it has ${s.ipAddress})`);
      if (s.floatingIps.length > 0)
        throw new AlreadyExists(`port ${s.id} already has floating IP ${s.floatingIps[0]} on ${s.ipAddress}`);
      return [{ type: 'FloatingIpAttached', data: { floatingIpId, fixedIp } }];
    }
    case 'DetachFloatingIp':
      return s.floatingIps.includes(cmd.data.floatingIpId)
        ? [{ type: 'FloatingIpDetached', data: { floatingIpId: cmd.data.floatingIpId } }]
        : [];
    default:
      throw new InvalidArgument(`unknown port command ${(cmd as { type: string }).type}`);
  }
};

const created = (s: PortState): PortCreatedData => ({
  networkId: s.networkId,
  subnetId: s.subnetId,
  name: s.name,
  macAddress: s.macAddress,
  ipAddress: s.ipAddress,
  securityGroups: s.securityGroups,
  bindingType: s.bindingType,
  adminState: s.adminState,
  deviceOwner: s.deviceOwner,
  deviceId: s.deviceId,
});

const ownerText = (s: PortState): string => (s.deviceOwner === 'router_interface' ? `router ${s.deviceId}'s interface` : `node ${s.deviceId}'s DHCP server`);
