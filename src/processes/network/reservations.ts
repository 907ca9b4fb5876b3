import type { MacAddressEvent } from '../../commands/mac_address';
import type { NetworkEvent } from '../../commands/network';
import type { NetworkPoolEvent } from '../../commands/network_pool';
import type { PortEvent } from '../../commands/port';
import type { RouterEvent } from '../../commands/router';
import type { SecurityGroupEvent } from '../../commands/security_group';
import type { SubnetEvent } from '../../commands/subnet';
import type { RecordedEvent } from '../../eventstore/event';
import type { ReadModel } from '../../projections/read-model';
import type { Snapshottable } from '../../projections/snapshot';

/** Something held for an owner: when it was taken, and by which event (for the release's causation). */
export interface Hold {
  /** Commit time of the event that took it (ms). */
  readonly since: number;
  readonly eventId: string;
  readonly correlationId: string;
}

export interface SegmentHold extends Hold {
  readonly kind: string;
  readonly segmentId: number;
}
export interface RefHold extends Hold {
  /** The network holding the reference. */
  readonly networkId: string;
}
export interface AllocationHold extends Hold {
  readonly subnetId: string;
  readonly allocationId: string;
}

/** The owner a reservation waits for: `network:<id>`, `subnet:<id>`, `port:<id>`, `floating_ip:<id>`, `router:<id>`. */
export type OwnerKind = 'network' | 'subnet' | 'port' | 'floating_ip' | 'router';
export const ownerKey = (kind: OwnerKind, id: string) => `${kind}:${id}`;
export const parseOwnerKey = (key: string): { kind: OwnerKind; id: string } => {
  const i = key.indexOf(':');
  return { kind: key.slice(0, i) as OwnerKind, id: key.slice(i + 1) };
};

const nested = <V>(m: Map<string, Map<string, V>>, k: string): Map<string, V> => {
  let inner = m.get(k);
  if (!inner) m.set(k, (inner = new Map()));
  return inner;
};
const unnest = <V>(m: Map<string, Map<string, V>>, k: string, k2: string): void => {
  const inner = m.get(k);
  if (!inner) return;
  inner.delete(k2);
  if (inner.size === 0) m.delete(k);
};

/**
 * Every reservation one networking aggregate holds on behalf of another, by
 * owner, folded from the log: a segment for a network, a subnet reference
 * for a subnet, for a port its network reference, MAC, addresses and
 * security group references, floating IP references on ports and routers,
 * a router's gateway addresses. The reconciler asks it "what does owner X
 * hold", which no single aggregate can answer (a port that was never created
 * has no stream to look in).
 */
export class NetworkReservations implements ReadModel, Snapshottable {
  readonly name = 'network-reservations';
  readonly snapshotVersion = '1';
  /** Last log position applied. */
  position = 0;
  private readonly held = {
    /** networkId → its VNI or VLAN id. */
    segments: new Map<string, SegmentHold>(),
    /** subnetId → the network that claimed its CIDR. */
    subnetRefs: new Map<string, RefHold>(),
    /** portId → the network that lists it. */
    portRefs: new Map<string, RefHold>(),
    /** portId → mac → hold. */
    macs: new Map<string, Map<string, Hold>>(),
    /** owner key (`port:<id>`, `router_interface:<id>`, `floating_ip:<id>`, `router_gateway:<id>`) → `<subnet>/<allocation>` → hold. User allocations are nobody's to reclaim. */
    allocations: new Map<string, Map<string, AllocationHold>>(),
    /** portId → security group → hold. */
    groupRefs: new Map<string, Map<string, Hold>>(),
    /** floatingIpId → port → hold (port AttachFloatingIp). */
    portFips: new Map<string, Map<string, Hold>>(),
    /** floatingIpId → router → hold (router RouteFloatingIp). */
    routerFips: new Map<string, Map<string, Hold>>(),
  };
  /**
   * A restored snapshot's section not parsed yet: a restart serves before the reconciler asks
   * (11 MB of holds at 10,000,000 events); the first look or commit parses it.
   */
  private deferred?: () => unknown;

  get segments() {
    return this.loaded.segments;
  }
  get subnetRefs() {
    return this.loaded.subnetRefs;
  }
  get portRefs() {
    return this.loaded.portRefs;
  }
  get macs() {
    return this.loaded.macs;
  }
  get allocations() {
    return this.loaded.allocations;
  }
  get groupRefs() {
    return this.loaded.groupRefs;
  }
  get portFips() {
    return this.loaded.portFips;
  }
  get routerFips() {
    return this.loaded.routerFips;
  }

  private get loaded() {
    const load = this.deferred;
    if (load) {
      this.deferred = undefined;
      this.fill(load());
    }
    return this.held;
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return; // in a restored snapshot already
    for (const e of commit) this.apply(e);
    this.position = commit[0].revision;
  }

  snapshot(): unknown {
    const { segments, subnetRefs, portRefs, macs, allocations, groupRefs, portFips, routerFips } = this;
    return { segments, subnetRefs, portRefs, macs, allocations, groupRefs, portFips, routerFips };
  }

  restore(data: unknown, position: number): void {
    this.deferred = undefined;
    this.fill(data);
    this.position = position;
  }

  restoreDeferred(load: () => unknown, position: number): void {
    for (const m of Object.values(this.held)) m.clear();
    this.deferred = load;
    this.position = position;
  }

  private fill(data: unknown): void {
    const d = data as Record<string, Map<string, never>>;
    for (const k of Object.keys(this.held) as (keyof NetworkReservations['held'])[]) {
      const m = this.held[k] as Map<string, unknown>;
      m.clear();
      for (const [key, v] of d[k] ?? []) m.set(key, v);
    }
  }

  private apply(e: RecordedEvent): void {
    const hold: Hold = { since: e.time.getTime(), eventId: e.id, correlationId: e.meta.correlationId };
    const id = e.aggregateId;
    switch (e.aggregateType) {
      case 'network_pool': {
        const ev = e as unknown as NetworkPoolEvent;
        if (ev.type === 'SegmentReserved') this.segments.set(ev.data.networkId, { ...hold, kind: ev.data.kind, segmentId: ev.data.segmentId });
        else if (ev.type === 'SegmentReleased') this.segments.delete(ev.data.networkId);
        return;
      }
      case 'network': {
        const ev = e as unknown as NetworkEvent;
        if (ev.type === 'SubnetAdded') this.subnetRefs.set(ev.data.subnetId, { ...hold, networkId: id });
        else if (ev.type === 'SubnetRemoved') this.subnetRefs.delete(ev.data.subnetId);
        else if (ev.type === 'PortAdded') this.portRefs.set(ev.data.portId, { ...hold, networkId: id });
        else if (ev.type === 'PortRemoved') this.portRefs.delete(ev.data.portId);
        return;
      }
      case 'mac_address': {
        const ev = e as unknown as MacAddressEvent;
        if (ev.type === 'MacReserved') nested(this.macs, ev.data.portId).set(ev.data.mac, hold);
        else if (ev.type === 'MacReleased') unnest(this.macs, ev.data.portId, ev.data.mac);
        return;
      }
      case 'subnet': {
        const ev = e as unknown as SubnetEvent;
        if (ev.type !== 'IpAllocated' && ev.type !== 'IpReleased') return;
        const { owner, allocationId } = ev.data;
        if (owner.kind === 'user') return;
        const key = `${owner.kind}:${owner.id}`;
        if (ev.type === 'IpAllocated') nested(this.allocations, key).set(`${id}/${allocationId}`, { ...hold, subnetId: id, allocationId });
        else unnest(this.allocations, key, `${id}/${allocationId}`);
        return;
      }
      case 'security_group': {
        const ev = e as unknown as SecurityGroupEvent;
        if (ev.type === 'SecurityGroupAttached') nested(this.groupRefs, ev.data.portId).set(id, hold);
        else if (ev.type === 'SecurityGroupDetached') unnest(this.groupRefs, ev.data.portId, id);
        return;
      }
      case 'port': {
        const ev = e as unknown as PortEvent;
        if (ev.type === 'FloatingIpAttached') nested(this.portFips, ev.data.floatingIpId).set(id, hold);
        else if (ev.type === 'FloatingIpDetached') unnest(this.portFips, ev.data.floatingIpId, id);
        return;
      }
      case 'router': {
        const ev = e as unknown as RouterEvent;
        if (ev.type === 'FloatingIpRouted') nested(this.routerFips, ev.data.floatingIpId).set(id, hold);
        else if (ev.type === 'FloatingIpUnrouted') unnest(this.routerFips, ev.data.floatingIpId, id);
        return;
      }
    }
  }

  /** Addresses held for an owner (`port`, `router_interface`, `floating_ip`, `router_gateway`). */
  allocationsOf(kind: string, id: string): AllocationHold[] {
    return [...(this.allocations.get(`${kind}:${id}`)?.values() ?? [])];
  }

  /** Every owner something is held for, as owner keys (the reconciler's full sweep). */
  *owners(): Generator<string> {
    for (const id of this.segments.keys()) yield ownerKey('network', id);
    for (const id of this.subnetRefs.keys()) yield ownerKey('subnet', id);
    const ports = new Set([...this.portRefs.keys(), ...this.macs.keys(), ...this.groupRefs.keys()]);
    const routers = new Set<string>();
    const fips = new Set([...this.portFips.keys(), ...this.routerFips.keys()]);
    for (const key of this.allocations.keys()) {
      const { kind, id } = parseOwnerKey(key);
      const k = kind as string;
      if (k === 'port' || k === 'router_interface') ports.add(id);
      else if (k === 'floating_ip') fips.add(id);
      else if (k === 'router_gateway') routers.add(id);
    }
    for (const id of ports) yield ownerKey('port', id);
    for (const id of fips) yield ownerKey('floating_ip', id);
    for (const id of routers) yield ownerKey('router', id);
  }

  /** How many holds there are in all (for tests and metrics: zero once everything is torn down). */
  count(): number {
    const sum = (m: Map<string, Map<string, unknown>>) => [...m.values()].reduce((n, x) => n + x.size, 0);
    return (
      this.segments.size +
      this.subnetRefs.size +
      this.portRefs.size +
      sum(this.macs) +
      sum(this.allocations) +
      sum(this.groupRefs) +
      sum(this.portFips) +
      sum(this.routerFips)
    );
  }
}
