import type { MacAddressEvent } from '../../commands/mac_address';
import type { NetworkEvent } from '../../commands/network';
import type { NetworkPoolEvent } from '../../commands/network_pool';
import type { PortEvent } from '../../commands/port';
import type { RouterEvent } from '../../commands/router';
import type { SecurityGroupEvent } from '../../commands/security_group';
import type { SubnetEvent } from '../../commands/subnet';
import type { RecordedEvent } from '../../eventstore/event';
import type { ReadModel } from '../../projections/read-model';
import { FilledOnFirstRead } from '../../projections/filled-on-first-read';
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

/** What is held, by kind. */
export interface Holds {
  /** networkId → its VNI or VLAN id. */
  readonly segments: Map<string, SegmentHold>;
  /** subnetId → the network that claimed its CIDR. */
  readonly subnetRefs: Map<string, RefHold>;
  /** portId → the network that lists it. */
  readonly portRefs: Map<string, RefHold>;
  /** portId → mac → hold. */
  readonly macs: Map<string, Map<string, Hold>>;
  /** owner key (`port:<id>`, `router_interface:<id>`, `floating_ip:<id>`, `router_gateway:<id>`) → `<subnet>/<allocation>` → hold. User allocations are nobody's to reclaim. */
  readonly allocations: Map<string, Map<string, AllocationHold>>;
  /** portId → security group → hold. */
  readonly groupRefs: Map<string, Map<string, Hold>>;
  /** floatingIpId → port → hold (port AttachFloatingIp). */
  readonly portFips: Map<string, Map<string, Hold>>;
  /** floatingIpId → router → hold (router RouteFloatingIp). */
  readonly routerFips: Map<string, Map<string, Hold>>;
}

const emptyHolds = (): Holds => ({
  segments: new Map(),
  subnetRefs: new Map(),
  portRefs: new Map(),
  macs: new Map(),
  allocations: new Map(),
  groupRefs: new Map(),
  portFips: new Map(),
  routerFips: new Map(),
});

/** Replaces every hold with a snapshot's (each kind as a Map, or as [key, value] pairs). */
const fill = (held: Holds, data: unknown): void => {
  const d = data as Record<string, Iterable<[string, never]> | undefined>;
  for (const k of Object.keys(held) as (keyof Holds)[]) {
    const m = held[k] as Map<string, unknown>;
    m.clear();
    for (const [key, v] of d[k] ?? []) m.set(key, v);
  }
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
  /** Parsed on first use after a restart: it serves before the reconciler asks (11 MB of holds at 10,000,000 events). */
  private readonly state = new FilledOnFirstRead(emptyHolds(), (held, load: () => unknown) => fill(held, load()));

  /** Every hold, by kind. */
  get holds(): Holds {
    return this.state.get();
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return; // in a restored snapshot already
    for (const e of commit) this.apply(e);
    this.position = commit[0].revision;
  }

  /** A copy of every kind's Map (and of the Maps inside): commits go on changing them while the snapshot is encoded. Holds themselves are never changed, only replaced. */
  snapshot(): unknown {
    const copy = (m: Map<string, unknown>) => new Map([...m].map(([k, v]) => [k, v instanceof Map ? new Map(v) : v]));
    return Object.fromEntries(Object.entries(this.holds).map(([kind, m]) => [kind, copy(m as Map<string, unknown>)]));
  }

  restore(data: unknown, position: number): void {
    this.state.fillNow(() => data);
    this.position = position;
  }

  restoreDeferred(load: () => unknown, position: number): void {
    this.state.fillLater(load);
    this.position = position;
  }

  private apply(e: RecordedEvent): void {
    const held = this.holds;
    const hold: Hold = { since: e.time.getTime(), eventId: e.id, correlationId: e.meta.correlationId };
    const id = e.aggregateId;
    switch (e.aggregateType) {
      case 'network_pool': {
        const ev = e as unknown as NetworkPoolEvent;
        if (ev.type === 'SegmentReserved') held.segments.set(ev.data.networkId, { ...hold, kind: ev.data.kind, segmentId: ev.data.segmentId });
        else if (ev.type === 'SegmentReleased') held.segments.delete(ev.data.networkId);
        return;
      }
      case 'network': {
        const ev = e as unknown as NetworkEvent;
        if (ev.type === 'SubnetAdded') held.subnetRefs.set(ev.data.subnetId, { ...hold, networkId: id });
        else if (ev.type === 'SubnetRemoved') held.subnetRefs.delete(ev.data.subnetId);
        else if (ev.type === 'PortAdded') held.portRefs.set(ev.data.portId, { ...hold, networkId: id });
        else if (ev.type === 'PortRemoved') held.portRefs.delete(ev.data.portId);
        return;
      }
      case 'mac_address': {
        const ev = e as unknown as MacAddressEvent;
        if (ev.type === 'MacReserved') nested(held.macs, ev.data.portId).set(ev.data.mac, hold);
        else if (ev.type === 'MacReleased') unnest(held.macs, ev.data.portId, ev.data.mac);
        return;
      }
      case 'subnet': {
        const ev = e as unknown as SubnetEvent;
        if (ev.type !== 'IpAllocated' && ev.type !== 'IpReleased') return;
        const { owner, allocationId } = ev.data;
        if (owner.kind === 'user') return;
        const key = `${owner.kind}:${owner.id}`;
        if (ev.type === 'IpAllocated') nested(held.allocations, key).set(`${id}/${allocationId}`, { ...hold, subnetId: id, allocationId });
        else unnest(held.allocations, key, `${id}/${allocationId}`);
        return;
      }
      case 'security_group': {
        const ev = e as unknown as SecurityGroupEvent;
        if (ev.type === 'SecurityGroupAttached') nested(held.groupRefs, ev.data.portId).set(id, hold);
        else if (ev.type === 'SecurityGroupDetached') unnest(held.groupRefs, ev.data.portId, id);
        return;
      }
      case 'port': {
        const ev = e as unknown as PortEvent;
        if (ev.type === 'FloatingIpAttached') nested(held.portFips, ev.data.floatingIpId).set(id, hold);
        else if (ev.type === 'FloatingIpDetached') unnest(held.portFips, ev.data.floatingIpId, id);
        return;
      }
      case 'router': {
        const ev = e as unknown as RouterEvent;
        if (ev.type === 'FloatingIpRouted') nested(held.routerFips, ev.data.floatingIpId).set(id, hold);
        else if (ev.type === 'FloatingIpUnrouted') unnest(held.routerFips, ev.data.floatingIpId, id);
        return;
      }
    }
  }

  /** Addresses held for an owner (`port`, `router_interface`, `floating_ip`, `router_gateway`). */
  allocationsOf(kind: string, id: string): AllocationHold[] {
    return [...(this.holds.allocations.get(`${kind}:${id}`)?.values() ?? [])];
  }

  /** Every owner something is held for, as owner keys (the reconciler's full sweep). */
  *owners(): Generator<string> {
    const held = this.holds;
    for (const id of held.segments.keys()) yield ownerKey('network', id);
    for (const id of held.subnetRefs.keys()) yield ownerKey('subnet', id);
    const ports = new Set([...held.portRefs.keys(), ...held.macs.keys(), ...held.groupRefs.keys()]);
    const routers = new Set<string>();
    const fips = new Set([...held.portFips.keys(), ...held.routerFips.keys()]);
    for (const key of held.allocations.keys()) {
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
    const held = this.holds;
    const sum = (m: Map<string, Map<string, unknown>>) => [...m.values()].reduce((n, x) => n + x.size, 0);
    return (
      held.segments.size +
      held.subnetRefs.size +
      held.portRefs.size +
      sum(held.macs) +
      sum(held.allocations) +
      sum(held.groupRefs) +
      sum(held.portFips) +
      sum(held.routerFips)
    );
  }
}
