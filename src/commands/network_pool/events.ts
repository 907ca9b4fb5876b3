import type { SegmentKind } from './state';

export type NetworkPoolEvent =
  | { type: 'SegmentReserved'; data: { networkId: string; kind: SegmentKind; segmentId: number } }
  | { type: 'SegmentReleased'; data: { networkId: string; kind: SegmentKind; segmentId: number } };
