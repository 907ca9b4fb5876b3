import type { InstanceFacts, VolumeSpec } from './spec';

/** A report from the agent of the volume's node. */
interface Report {
  readonly nodeId: string;
}

export type VolumeCommand =
  /** After storage was reserved on nodeId (node ReserveStorage, key = the volume's id). */
  | { type: 'CreateVolume'; data: { spec: VolumeSpec; nodeId: string } }
  /** name/description '' keep; iops/throughput 0 keep, -1 remove the limit; labels/annotations replace when given. */
  | {
      type: 'UpdateVolume';
      data: { name: string; description: string; iopsLimit: number; throughputLimit: number; labels?: Record<string, string>; annotations?: Record<string, string> };
    }
  | { type: 'AttachVolume'; data: { instance: InstanceFacts; devicePath: string } }
  /** instanceLive: the instance runs on the host now, so its agent must let go of the disk before the volume is free. */
  | { type: 'DetachVolume'; data: { force: boolean; instanceLive: boolean } }
  /** The attached instance is gone (deleted): the volume is free, nothing is left on a host to undo. */
  | { type: 'ReleaseVolume'; data: { instanceId: string } }
  /** After the node's storage reservation grew to newSizeBytes. instanceLive: the attached instance runs now. */
  | { type: 'ResizeVolume'; data: { newSizeBytes: number; instanceLive?: boolean } }
  /** withoutNode: the node is gone, so nobody is left to remove the file. */
  | { type: 'DeleteVolume'; data: { force: boolean; withoutNode?: string } }
  /** The attached instance has moved to toNodeId (InstanceMigrated, live or cold): the volume's data went with it. */
  | { type: 'MoveVolume'; data: { instanceId: string; toNodeId: string } }
  | { type: 'ReportVolumeReady'; data: Report & { sizeBytes: number } }
  | { type: 'ReportVolumeFailed'; data: Report & { reason: string } }
  /** bus: the q35 hot-plug port the disk is on (kept for its next launch, and a move's destination). */
  | { type: 'ReportVolumeAttached'; data: Report & { instanceId: string; bus?: string } }
  | { type: 'ReportVolumeAttachFailed'; data: Report & { instanceId: string; reason: string } }
  | { type: 'ReportVolumeDetached'; data: Report & { instanceId: string } }
  | { type: 'ReportVolumeResized'; data: Report & { sizeBytes: number } }
  | { type: 'ReportVolumeDeleted'; data: Report }
  /** A node the volume moved away from has removed its copy. */
  | { type: 'ReportVolumeCopyRemoved'; data: Report };
