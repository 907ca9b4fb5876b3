import { FailedPrecondition, InvalidArgument } from '../../errors';
import { canonicalAddress, parseAddress } from '../../domain/ipam/address';
import { createAgain, deletable, optionalText, requireActive, requireExternalNetwork, requireToken, sameJson } from '../network/fields';
import type { FloatingIpCommand } from './commands';
import type { Association, FloatingIpEvent } from './events';
import type { FloatingIpState } from './state';

export const decide = (cmd: FloatingIpCommand, s: FloatingIpState): FloatingIpEvent[] => {
  switch (cmd.type) {
    case 'CreateFloatingIp': {
      const { network, subnetId, tenantId } = cmd.data;
      requireExternalNetwork('floating_network_id', network);
      requireToken('subnet_id', subnetId);
      optionalText('tenant_id', tenantId);
      const data = {
        floatingNetworkId: network.id,
        floatingSubnetId: subnetId,
        floatingIp: canonicalAddress('floating_ip', cmd.data.floatingIp),
        tenantId,
      };
      if (s.status !== 'absent')
        return createAgain('floating IP', s, sameJson(data, {
          floatingNetworkId: s.floatingNetworkId,
          floatingSubnetId: s.floatingSubnetId,
          floatingIp: s.floatingIp,
          tenantId: s.tenantId,
        }));
      return [{ type: 'FloatingIpCreated', data }];
    }
    case 'AssociateFloatingIp': {
      const { portId, routerId } = cmd.data;
      requireToken('port_id', portId);
      requireToken('router_id', routerId);
      requireActive('floating IP', s);
      const fixed = parseAddress('fixed_ip', cmd.data.fixedIp);
      const fixedIp = canonicalAddress('fixed_ip', cmd.data.fixedIp);
      if (fixed.version !== parseAddress('floating_ip', s.floatingIp).version)
        throw new InvalidArgument(`fixed_ip: ${fixedIp} is not of the same IP version as floating IP ${s.floatingIp}`);
      if (s.portId) {
        if (s.portId === portId && s.fixedIp === fixedIp && s.routerId === routerId) return []; // redelivered
        throw new FailedPrecondition(`floating IP ${s.id} is associated with port ${s.portId}; disassociate it first`);
      }
      return [{ type: 'FloatingIpAssociated', data: { portId, fixedIp, routerId } }];
    }
    case 'DisassociateFloatingIp':
      requireActive('floating IP', s);
      return disassociate(s);
    case 'DeleteFloatingIp': {
      if (!deletable('floating IP', s)) return [];
      // As in Neutron, deleting an associated floating IP disassociates it first.
      const { floatingNetworkId, floatingSubnetId, floatingIp } = s;
      return [...disassociate(s), { type: 'FloatingIpDeleted', data: { floatingNetworkId, floatingSubnetId, floatingIp } }];
    }
    case 'ReportFloatingIpStatus': {
      const d = cmd.data;
      requireToken('node_id', d.nodeId);
      requireToken('router_id', d.routerId);
      if (d.status !== 'ACTIVE' && d.status !== 'ERROR') throw new InvalidArgument(`status: "${String(d.status)}" is not ACTIVE or ERROR`);
      if (s.status !== 'active' || !s.portId || s.routerId !== d.routerId) return []; // let go or moved meanwhile: a stale report
      const reason = d.status === 'ERROR' ? d.reason.slice(0, 1024) : '';
      if (s.hostStatus === d.status && s.hostReason === reason) return [];
      return [{ type: 'FloatingIpStatusReported', data: { nodeId: d.nodeId, routerId: d.routerId, status: d.status, reason } }];
    }
    default:
      throw new InvalidArgument(`unknown floating_ip command ${(cmd as { type: string }).type}`);
  }
};

const disassociate = (s: FloatingIpState): FloatingIpEvent[] => {
  if (!s.portId) return [];
  const data: Association = { portId: s.portId, fixedIp: s.fixedIp, routerId: s.routerId };
  return [{ type: 'FloatingIpDisassociated', data }];
};
