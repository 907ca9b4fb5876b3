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
  | { type: 'ReportSnapshotDeleted'; data: Report };
