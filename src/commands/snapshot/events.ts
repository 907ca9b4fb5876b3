export interface SnapshotCreatedData {
  readonly volumeId: string;
  readonly nodeId: string;
  /** The volume's size when it was taken. */
  readonly sizeBytes: number;
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** Events of one snapshot: a crash-consistent full copy of a volume, kept on the volume's node. */
export type SnapshotEvent =
  | { type: 'SnapshotCreated'; data: SnapshotCreatedData }
  | { type: 'SnapshotProgressed'; data: { percent: number } }
  | { type: 'SnapshotReady'; data: { sizeBytes: number } }
  | { type: 'SnapshotFailed'; data: { reason: string } }
  | { type: 'SnapshotUpdated'; data: { name: string; description: string; labels: Record<string, string>; annotations: Record<string, string> } }
  | { type: 'SnapshotDeletionRequested'; data: Record<string, never> }
  | { type: 'SnapshotDeleted'; data: { reason: string } }
  /** Its volume moved to toNodeId (VolumeMoved): its file follows, copied from the node it is on. */
  | { type: 'SnapshotMoveRequested'; data: { fromNodeId: string; toNodeId: string } }
  /** The node it is on serves its file there for the copy (a cold move's disk server). */
  | { type: 'SnapshotServed'; data: { endpoint: SnapshotEndpoint } }
  /** toNodeId holds its copy now: it lives there; fromNodeId still has a copy to remove. */
  | { type: 'SnapshotMoved'; data: { fromNodeId: string; toNodeId: string } }
  /** The copy left on nodeId by a move is gone. */
  | { type: 'SnapshotCopyRemoved'; data: { nodeId: string } };

/** Where a node serves a snapshot's file over NBD (its advertise address, a port of its migration range). */
export interface SnapshotEndpoint {
  readonly host: string;
  readonly port: number;
}
