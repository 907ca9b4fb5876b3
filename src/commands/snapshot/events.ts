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
  | { type: 'SnapshotDeleted'; data: { reason: string } };
