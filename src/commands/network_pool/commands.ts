import type { SegmentKind } from './state';

export type NetworkPoolCommand =
  /** Before CreateNetwork (VXLAN, VLAN). segmentId 0: the lowest free one. */
  | { type: 'ReserveSegment'; data: { networkId: string; kind: SegmentKind; segmentId: number } }
  /** After NetworkDeleted, or to undo a reservation when CreateNetwork failed. */
  | { type: 'ReleaseSegment'; data: { networkId: string } };
