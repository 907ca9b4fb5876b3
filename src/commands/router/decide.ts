import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { canonicalAddress, parseAddress } from '../../domain/ipam/address';
import { contains, overlaps, parseCidr } from '../../domain/ipam/cidr';
import {
  createAgain,
  deletable,
  list,
  optionalText,
  requireActive,
  requireExternalNetwork,
  requireToken,
  sameJson,
} from '../network/fields';
import type { RouterCommand } from './commands';
import type { RouterEvent } from './events';
import type { GatewayIp, Route, RouterInterface, RouterState } from './state';

export const MAX_ROUTES = 30;

export const decide = (cmd: RouterCommand, s: RouterState): RouterEvent[] => {
  switch (cmd.type) {
    case 'CreateRouter': {
      const { name, tenantId, distributed } = cmd.data;
      optionalText('name', name);
      optionalText('tenant_id', tenantId);
      if (s.status !== 'absent')
        return createAgain('router', s, s.name === name && s.tenantId === tenantId && s.distributed === distributed);
      return [{ type: 'RouterCreated', data: { name, tenantId, distributed, adminState: true } }];
    }
    case 'DeleteRouter': {
      if (!deletable('router', s)) return [];
      if (s.interfaces.length > 0)
        throw new FailedPrecondition(
          `router ${s.id} still has ${s.interfaces.length} interface(s) (on subnet ${list(s.interfaces.map((i) => i.subnetId))}); remove them first`,
        );
      // Floating IPs need an interface, so none is routed here; the gateway goes with the router.
      return [...clearGateway(s), { type: 'RouterDeleted', data: {} }];
    }
    case 'SetExternalGateway': {
      const { network, enableSnat } = cmd.data;
      requireActive('router', s);
      requireExternalNetwork('external_gateway.network_id', network);
      if (cmd.data.fixedIps.length === 0)
        throw new InvalidArgument('external_gateway.external_fixed_ips: allocate at least one address on the external network first');
      const fixedIps = cmd.data.fixedIps.map((f, i): GatewayIp => {
        const field = `external_gateway.external_fixed_ips[${i}]`;
        requireToken(`${field}.subnet_id`, f.subnetId);
        requireToken(`${field}.allocation_id`, f.allocationId);
        return { subnetId: f.subnetId, ipAddress: canonicalAddress(`${field}.ip_address`, f.ipAddress), allocationId: f.allocationId };
      });
      const data = { networkId: network.id, enableSnat, fixedIps };
      if (s.gateway) {
        if (sameJson(s.gateway, data)) return []; // redelivered
        throw new FailedPrecondition(`router ${s.id} already has an external gateway on network ${s.gateway.networkId}; clear it first`);
      }
      return [{ type: 'ExternalGatewaySet', data }];
    }
    case 'ClearExternalGateway': {
      requireActive('router', s);
      if (s.floatingIps.length > 0)
        throw new FailedPrecondition(
          `router ${s.id} carries floating IP(s) ${list(s.floatingIps.map((f) => f.floatingIpId))} through its gateway; disassociate them first`,
        );
      return clearGateway(s);
    }
    case 'AddInterface': {
      const d = cmd.data;
      requireToken('subnet_id', d.subnetId);
      requireToken('port_id', d.portId);
      requireToken('network_id', d.networkId);
      requireActive('router', s);
      const cidr = parseCidr('cidr', d.cidr);
      const ip = canonicalAddress('ip_address', d.ipAddress, cidr.version);
      const gateway = canonicalAddress('gateway_ip', d.gatewayIp, cidr.version);
      const existing = s.interfaces.find((i) => i.subnetId === d.subnetId);
      if (existing) {
        if (existing.portId === d.portId) return []; // redelivered
        throw new AlreadyExists(`router ${s.id} already has an interface on subnet ${d.subnetId} (port ${existing.portId})`);
      }
      if (ip !== gateway)
        throw new InvalidArgument(`ip_address: a router interface takes the gateway address ${gateway} of subnet ${d.subnetId}, not ${ip}`);
      if (!contains(cidr, cidr.version, parseAddress('ip_address', ip).value))
        throw new InvalidArgument(`ip_address: ${ip} is outside ${cidr.text}`);
      const clash = s.interfaces.find((i) => overlaps(cidr, parseCidr('cidr', i.cidr)));
      if (clash)
        throw new FailedPrecondition(
          `cidr: ${cidr.text} of subnet ${d.subnetId} overlaps ${clash.cidr} of subnet ${clash.subnetId}, already on router ${s.id}`,
        );
      const data: RouterInterface = { subnetId: d.subnetId, portId: d.portId, networkId: d.networkId, cidr: cidr.text, ipAddress: ip };
      return [{ type: 'RouterInterfaceAdded', data }];
    }
    case 'RemoveInterface': {
      requireActive('router', s);
      const itf = s.interfaces.find((i) => i.subnetId === cmd.data.subnetId);
      if (!itf) throw new NotFound(`router ${s.id} has no interface on subnet ${cmd.data.subnetId}`);
      const cidr = parseCidr('cidr', itf.cidr);
      const using = s.routes.filter((r) => onCidr(cidr, r.nexthop));
      if (using.length > 0)
        throw new FailedPrecondition(
          `route(s) ${list(using.map((r) => `${r.destination} via ${r.nexthop}`))} use subnet ${itf.subnetId}; remove them first`,
        );
      const fips = s.floatingIps.filter((f) => f.subnetId === itf.subnetId);
      if (fips.length > 0)
        throw new FailedPrecondition(
          `floating IP(s) ${list(fips.map((f) => f.floatingIpId))} reach subnet ${itf.subnetId} through router ${s.id}; disassociate them first`,
        );
      return [{ type: 'RouterInterfaceRemoved', data: { subnetId: itf.subnetId, portId: itf.portId, ipAddress: itf.ipAddress } }];
    }
    case 'AddRoute': {
      requireActive('router', s);
      const dest = parseCidr('destination', cmd.data.destination);
      const hop = parseAddress('nexthop', cmd.data.nexthop, dest.version);
      const nexthop = canonicalAddress('nexthop', cmd.data.nexthop);
      const route: Route = { destination: dest.text, nexthop };
      const existing = s.routes.find((r) => r.destination === dest.text);
      if (existing) {
        if (existing.nexthop === nexthop) return []; // redelivered
        throw new AlreadyExists(`destination: router ${s.id} already routes ${dest.text} via ${existing.nexthop}`);
      }
      if (s.interfaces.some((i) => i.ipAddress === nexthop))
        throw new InvalidArgument(`nexthop: ${nexthop} is router ${s.id}'s own address`);
      if (!s.interfaces.some((i) => contains(parseCidr('cidr', i.cidr), hop.version, hop.value)))
        throw new FailedPrecondition(`nexthop: ${nexthop} is not on any subnet attached to router ${s.id}`);
      if (s.routes.length >= MAX_ROUTES) throw new ResourceExhausted(`router ${s.id} has ${MAX_ROUTES} routes, the most it may have`);
      return [{ type: 'RouteAdded', data: route }];
    }
    case 'RemoveRoute': {
      requireActive('router', s);
      const dest = parseCidr('destination', cmd.data.destination);
      const route = s.routes.find((r) => r.destination === dest.text);
      if (!route) throw new NotFound(`destination: router ${s.id} has no route to ${dest.text}`);
      return [{ type: 'RouteRemoved', data: route }];
    }
    case 'RouteFloatingIp': {
      const d = cmd.data;
      requireToken('floating_ip_id', d.floatingIpId);
      requireToken('floating_network_id', d.floatingNetworkId);
      requireToken('subnet_id', d.subnetId);
      requireActive('router', s);
      const routed = s.floatingIps.find((f) => f.floatingIpId === d.floatingIpId);
      if (routed) {
        if (routed.floatingNetworkId === d.floatingNetworkId && routed.subnetId === d.subnetId) return []; // redelivered
        throw new FailedPrecondition(`floating IP ${d.floatingIpId} is already routed by router ${s.id} to subnet ${routed.subnetId}`);
      }
      if (s.gateway?.networkId !== d.floatingNetworkId)
        throw new FailedPrecondition(`router ${s.id} has no external gateway on network ${d.floatingNetworkId}`);
      if (!s.interfaces.some((i) => i.subnetId === d.subnetId))
        throw new FailedPrecondition(`router ${s.id} has no interface on subnet ${d.subnetId}`);
      return [{ type: 'FloatingIpRouted', data: { floatingIpId: d.floatingIpId, floatingNetworkId: d.floatingNetworkId, subnetId: d.subnetId } }];
    }
    case 'UnrouteFloatingIp':
      return s.floatingIps.some((f) => f.floatingIpId === cmd.data.floatingIpId)
        ? [{ type: 'FloatingIpUnrouted', data: { floatingIpId: cmd.data.floatingIpId } }]
        : [];
    case 'PlaceRouter': {
      requireToken('node_id', cmd.data.nodeId);
      // A router being deleted goes nowhere; one already there stays (redelivered).
      if (s.status !== 'active' || s.nodeId === cmd.data.nodeId) return [];
      return [{ type: 'RouterPlaced', data: { nodeId: cmd.data.nodeId, from: s.nodeId, reason: cmd.data.reason } }];
    }
    case 'ReportRouterStatus': {
      const d = cmd.data;
      requireToken('node_id', d.nodeId);
      if (d.status !== 'ACTIVE' && d.status !== 'ERROR') throw new InvalidArgument(`status: "${String(d.status)}" is not ACTIVE or ERROR`);
      if (s.status !== 'active' || s.nodeId !== d.nodeId) return []; // it moved or went: a stale report
      const reason = d.status === 'ERROR' ? d.reason.slice(0, 1024) : '';
      if (s.hostStatus === d.status && s.hostReason === reason) return [];
      return [{ type: 'RouterStatusReported', data: { nodeId: d.nodeId, status: d.status, reason } }];
    }
    default:
      throw new InvalidArgument(`unknown router command ${(cmd as { type: string }).type}`);
  }
};

const clearGateway = (s: RouterState): RouterEvent[] =>
  s.gateway ? [{ type: 'ExternalGatewayCleared', data: { networkId: s.gateway.networkId, fixedIps: s.gateway.fixedIps } }] : [];

const onCidr = (cidr: ReturnType<typeof parseCidr>, ip: string) => {
  const a = parseAddress('nexthop', ip);
  return contains(cidr, a.version, a.value);
};

/** Whether this router can carry a floating IP of `floatingNetworkId` to `subnetId` (for the caller choosing a router). */
export const reaches = (s: RouterState, floatingNetworkId: string, subnetId: string): boolean =>
  s.status === 'active' && s.gateway?.networkId === floatingNetworkId && s.interfaces.some((i) => i.subnetId === subnetId);
