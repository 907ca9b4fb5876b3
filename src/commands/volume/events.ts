import type { VolumeSpec } from './spec';

export interface Attachment {
  readonly instanceId: string;
  readonly devicePath: string;
  readonly instanceKind: 'vm' | 'microvm' | 'container';
}

/**
 * Events of one volume. Host work is level-triggered: the agent of the
 * volume's node reads what its volumes should be (status, size, attachment)
 * and reports what it made so; a report that no longer matches changes nothing.
 */
export type VolumeEvent =
  | { type: 'VolumeCreated'; data: { spec: VolumeSpec; nodeId: string } }
  | { type: 'VolumeReady'; data: { sizeBytes: number } }
  /** reason goes into metadata.annotations["hypervisor.reason"]. */
  | { type: 'VolumeFailed'; data: { reason: string } }
  | {
      type: 'VolumeUpdated';
      data: { name: string; description: string; iopsLimit: number; throughputLimit: number; labels: Record<string, string>; annotations: Record<string, string> };
    }
  /** Part of the instance's desired state from now: applied live (q35 VM), or at its next start. */
  | { type: 'VolumeAttached'; data: Attachment }
  /** The node's agent has the disk in the running instance. */
  | { type: 'VolumeAttachmentApplied'; data: { instanceId: string; bus?: string } }
  | { type: 'VolumeAttachFailed'; data: { instanceId: string; reason: string } }
  /** The running instance must let go first; force: unplugged without the guest's consent after a timeout. */
  | { type: 'VolumeDetachRequested'; data: { instanceId: string; force: boolean } }
  | { type: 'VolumeDetached'; data: { instanceId: string; reason: string } }
  | { type: 'VolumeResizeRequested'; data: { fromBytes: number; toBytes: number } }
  | { type: 'VolumeResized'; data: { sizeBytes: number } }
  /** Moved with its instance (a live migration mirrored it, a cold move copied it): fromNodeId still has a copy to remove. */
  | { type: 'VolumeMoved'; data: { instanceId: string; fromNodeId: string; toNodeId: string } }
  /** The copy left on nodeId by a move is gone. */
  | { type: 'VolumeCopyRemoved'; data: { nodeId: string } }
  | { type: 'VolumeDeletionRequested'; data: Record<string, never> }
  | { type: 'VolumeDeleted'; data: { reason: string } };
