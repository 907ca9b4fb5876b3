import type { SnapshotEndpoint } from './events';
/** What a snapshot needs to know of its volume, read by the caller from the volume's projection. */
export interface VolumeFacts {
  readonly id: string;
  readonly exists: boolean;
  readonly status: string;
  readonly nodeId: string;
  readonly sizeBytes: number;
  readonly tenantId: string;
}

export interface SnapshotText {
  readonly name: string;
  readonly description: string;
}

interface Report {
  readonly nodeId: string;
}

export type SnapshotCommand =
  | {
      type: 'CreateSnapshot';
      data: SnapshotText & { volume: VolumeFacts; tenantId: string; labels: Record<string, string>; annotations: Record<string, string> };
    }
  /** name/description '' keep; labels/annotations replace when given. */
  | { type: 'UpdateSnapshot'; data: SnapshotText & { labels?: Record<string, string>; annotations?: Record<string, string> } }
  /** dependents: volumes still being made from this snapshot (CREATING). */
  | { type: 'DeleteSnapshot'; data: { dependents: string[]; withoutNode?: string } }
  | { type: 'ReportSnapshotProgress'; data: Report & { percent: number } }
  | { type: 'ReportSnapshotReady'; data: Report & { sizeBytes: number } }
  | { type: 'ReportSnapshotFailed'; data: Report & { reason: string } }
  | { type: 'ReportSnapshotDeleted'; data: Report }
  /** From the storage keeper: the snapshot's volume is on toNodeId now, so the snapshot goes there too. */
  | { type: 'MoveSnapshot'; data: { toNodeId: string } }
  /** The node it is on serves its file for the move, there. */
  | { type: 'ReportSnapshotServed'; data: Report & { endpoint: SnapshotEndpoint } }
  /** The node it moves to has copied its file. */
  | { type: 'ReportSnapshotCopied'; data: Report }
  /** A node it moved away from has removed its copy. */
  | { type: 'ReportSnapshotCopyRemoved'; data: Report };
