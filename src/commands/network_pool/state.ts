import { SortedMap } from '../../domain/ipam/sorted-map';

export type SegmentKind = 'vxlan' | 'vlan';

export interface Segment {
  readonly kind: SegmentKind;
  readonly segmentId: number;
}

/**
 * The network pool is a registry, not a resource: VNIs must be unique among
 * VXLAN networks and VLAN ids among VLAN networks, and "lowest free" must be
 * exact when two networks are created at once. Only one stream can decide
 * that, so every reservation goes through this one aggregate (id `global`);
 * two concurrent reservations of the last VNI meet as an append conflict and
 * the loser decides again against the new state.
 */
export interface NetworkPoolState {
  readonly id: string;
  /** Held segment ids (as BigInt, for the IPAM first-free walk) → network id. */
  readonly vxlan: SortedMap<bigint, string>;
  readonly vlan: SortedMap<bigint, string>;
  readonly byNetwork: SortedMap<string, Segment>;
}

export const NETWORK_POOL_ID = 'global';

export const initialState = (id: string): NetworkPoolState => ({
  id,
  vxlan: SortedMap.empty(),
  vlan: SortedMap.empty(),
  byNetwork: SortedMap.empty(),
});
