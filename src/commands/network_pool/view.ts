import type { NetworkPoolState, Segment } from './state';

/** The segment a network holds: how the caller learns which VNI or VLAN id ReserveSegment picked. */
export const segmentOf = (s: NetworkPoolState, networkId: string): Segment | undefined => s.byNetwork.get(networkId);

/** A plain JSON view for audit: which network holds which segment. */
export const toJson = (s: NetworkPoolState) => ({
  id: s.id,
  vxlan: Object.fromEntries([...s.vxlan.entries()].map(([k, v]) => [String(k), v])),
  vlan: Object.fromEntries([...s.vlan.entries()].map(([k, v]) => [String(k), v])),
});
