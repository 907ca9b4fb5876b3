import type { Command } from '../../commands/command';
import type { FloatingIpState } from '../../commands/floating_ip';
import { macAddressId } from '../../commands/mac_address';
import type { Lifecycle } from '../../commands/network/fields';
import { NETWORK_POOL_ID } from '../../commands/network_pool';
import type { NetworkState } from '../../commands/network';
import type { PortState } from '../../commands/port';
import type { RouterState } from '../../commands/router';
import type { SubnetState } from '../../commands/subnet';
import { type Hold, type NetworkReservations, parseOwnerKey } from './reservations';

/** One command that gives something back, with the hold it releases (for the command's id and causation). */
export interface Release {
  /** Stable within the owner: names the command in its id. */
  readonly step: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: Command;
  readonly hold: Hold;
}

export interface ReleasePlan {
  readonly releases: Release[];
  /** When something still inside its grace period should be looked at again (ms since epoch). */
  readonly recheckAt?: number;
}

/** What the planner reads: each aggregate's state as its read model holds it. */
export interface NetworkStates {
  network(id: string): NetworkState | undefined;
  subnet(id: string): SubnetState | undefined;
  port(id: string): PortState | undefined;
  router(id: string): RouterState | undefined;
  floatingIp(id: string): FloatingIpState | undefined;
}

const statusOf = (s: { status: Lifecycle } | undefined): Lifecycle => s?.status ?? 'absent';

/**
 * What to give back for one owner, decided from state alone (level-triggered):
 * - the owner is deleted: everything held for it, now (the follow-ups of a
 *   delete: NetworkDeleted → release the segment, PortDeleted → groups,
 *   address, MAC, network reference, …);
 * - the owner does not exist (yet): what has been held longer than
 *   `graceMs` (a create that crashed halfway), never sooner, since a create
 *   in flight holds its reservations before its owner exists;
 * - the owner exists: references it does not account for (a floating IP
 *   attached to a port it is not associated with, a router interface port
 *   its router does not list, a gateway address the router does not use),
 *   also after `graceMs`, since the steps of an associate or an
 *   AddRouterInterface land one after the other.
 * Releases come in the reverse order of the create sequence.
 */
export const planReleases = (key: string, st: NetworkStates, reservations: NetworkReservations, now: number, graceMs: number): ReleasePlan => {
  const releases: Release[] = [];
  let recheckAt: number | undefined;
  /** Whether a hold is due; if not, remember when it will be. */
  const due = (hold: Hold, ownerGone: boolean): boolean => {
    if (ownerGone) return true;
    const at = hold.since + graceMs;
    if (at <= now) return true;
    recheckAt = recheckAt === undefined ? at : Math.min(recheckAt, at);
    return false;
  };
  const { kind, id } = parseOwnerKey(key);
  const held = reservations.holds;

  switch (kind) {
    case 'network': {
      const seg = held.segments.get(id);
      const status = statusOf(st.network(id));
      if (seg && status !== 'active' && due(seg, status === 'deleted'))
        releases.push({ step: 'release-segment', aggregateType: 'network_pool', aggregateId: NETWORK_POOL_ID, command: { type: 'ReleaseSegment', data: { networkId: id } }, hold: seg });
      break;
    }

    case 'subnet': {
      const ref = held.subnetRefs.get(id);
      const status = statusOf(st.subnet(id));
      if (ref && status !== 'active' && due(ref, status === 'deleted'))
        releases.push({ step: 'remove-subnet', aggregateType: 'network', aggregateId: ref.networkId, command: { type: 'RemoveSubnet', data: { subnetId: id } }, hold: ref });
      break;
    }

    case 'port': {
      const port = st.port(id);
      const status = statusOf(port);
      if (port && status === 'active') {
        // A router's interface port that its router does not list (AddInterface never landed, or the interface was removed).
        if (port.deviceOwner === 'router_interface') {
          const r = st.router(port.deviceId);
          const listed = r?.status === 'active' && r.interfaces.some((i) => i.portId === id);
          const hold: Hold = { since: port.createdAt?.getTime() ?? 0, eventId: `port-${id}`, correlationId: id };
          if (!listed && due(hold, r?.status === 'deleted'))
            releases.push({ step: 'delete-interface-port', aggregateType: 'port', aggregateId: id, command: { type: 'DeletePort', data: { asOwner: port.deviceId } }, hold });
        }
        // A MAC held for the port that is not its own (a create retried after a crash picked another).
        for (const [mac, hold] of held.macs.get(id) ?? []) {
          if (mac !== port.macAddress && due(hold, false))
            releases.push({ step: `release-mac:${mac}`, aggregateType: 'mac_address', aggregateId: macAddressId(mac), command: { type: 'ReleaseMac', data: { portId: id } }, hold });
        }
        break;
      }
      const gone = status === 'deleted';
      for (const [groupId, hold] of held.groupRefs.get(id) ?? [])
        if (due(hold, gone))
          releases.push({ step: `detach-group:${groupId}`, aggregateType: 'security_group', aggregateId: groupId, command: { type: 'DetachPort', data: { portId: id } }, hold });
      for (const a of [...reservations.allocationsOf('port', id), ...reservations.allocationsOf('router_interface', id)])
        if (due(a, gone))
          releases.push({ step: `release-ip:${a.subnetId}`, aggregateType: 'subnet', aggregateId: a.subnetId, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId: a.allocationId } }, hold: a });
      for (const [mac, hold] of held.macs.get(id) ?? [])
        if (due(hold, gone))
          releases.push({ step: `release-mac:${mac}`, aggregateType: 'mac_address', aggregateId: macAddressId(mac), command: { type: 'ReleaseMac', data: { portId: id } }, hold });
      const ref = held.portRefs.get(id);
      if (ref && due(ref, gone))
        releases.push({ step: 'remove-port', aggregateType: 'network', aggregateId: ref.networkId, command: { type: 'RemovePort', data: { portId: id } }, hold: ref });
      break;
    }

    case 'floating_ip': {
      const fip = st.floatingIp(id);
      const status = statusOf(fip);
      const active = status === 'active' ? fip : undefined;
      const gone = status === 'deleted';
      // Association steps: router RouteFloatingIp → port AttachFloatingIp → floating_ip AssociateFloatingIp; undone in reverse.
      for (const [portId, hold] of held.portFips.get(id) ?? [])
        if (active?.portId !== portId && due(hold, gone || (!!active && !!active.portId)))
          releases.push({ step: `detach-port:${portId}`, aggregateType: 'port', aggregateId: portId, command: { type: 'DetachFloatingIp', data: { floatingIpId: id } }, hold });
      for (const [routerId, hold] of held.routerFips.get(id) ?? [])
        if (active?.routerId !== routerId && due(hold, gone || (!!active && !!active.routerId)))
          releases.push({ step: `unroute:${routerId}`, aggregateType: 'router', aggregateId: routerId, command: { type: 'UnrouteFloatingIp', data: { floatingIpId: id } }, hold });
      for (const a of reservations.allocationsOf('floating_ip', id)) {
        const own = active && active.floatingSubnetId === a.subnetId && a.allocationId === id;
        if (!own && due(a, gone))
          releases.push({ step: `release-ip:${a.subnetId}`, aggregateType: 'subnet', aggregateId: a.subnetId, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId: a.allocationId } }, hold: a });
      }
      break;
    }

    case 'router': {
      const r = st.router(id);
      const status = statusOf(r);
      const used = new Set(status === 'active' ? (r?.gateway?.fixedIps ?? []).map((f) => `${f.subnetId}/${f.allocationId}`) : []);
      for (const a of reservations.allocationsOf('router_gateway', id))
        if (!used.has(`${a.subnetId}/${a.allocationId}`) && due(a, status === 'deleted'))
          releases.push({ step: `release-ip:${a.subnetId}:${a.allocationId}`, aggregateType: 'subnet', aggregateId: a.subnetId, command: { type: 'ReleaseIp', data: { ipAddress: '', allocationId: a.allocationId } }, hold: a });
      break;
    }
  }
  return { releases, recheckAt };
};
