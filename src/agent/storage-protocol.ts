/**
 * Volumes and snapshots between the control plane and the agents (NATS core
 * requests, like the network plan):
 * - `hv.ctl.agent.storage` {nodeId} → StorageReply: every volume and snapshot
 *   on that node as it should be (status, size, attachment). The agent's
 *   storage reconcile makes the host so, level-triggered and idempotent.
 * - `hv.ctl.storage.changed` (no body) after each commit that touches a volume
 *   or snapshot, so agents converge at once rather than at their next period.
 * - Outcomes go back as commands on the command bus (`volume`, `snapshot`).
 * Key material never travels: a volume names its key id, the agent holds the file.
 */
export const STORAGE_PLAN_SUBJECT = 'hv.ctl.agent.storage';
export const STORAGE_CHANGED_SUBJECT = 'hv.ctl.storage.changed';
export { VOLUME_KEYS_ANNOTATION } from '../domain/annotations';

export interface DesiredAttachment {
  readonly instanceId: string;
  readonly devicePath: string;
  readonly instanceKind: 'vm' | 'microvm' | 'container';
  /** The agent already reported it live in the instance. */
  readonly applied: boolean;
  /** When it was attached (epoch ms): names this attachment in the agent's reports. */
  readonly sinceMs: number;
  /** q35: the hot-plug port it was reported on; a launch puts it there again. */
  readonly bus?: string;
  /** Set when the instance must let go; force after the timeout. sinceMs: when it was asked (epoch ms). */
  readonly detaching?: { readonly force: boolean; readonly sinceMs: number };
}

export interface DesiredVolume {
  readonly id: string;
  readonly name: string;
  readonly status: 'CREATING' | 'AVAILABLE' | 'IN_USE' | 'DELETING' | 'ERROR' | 'EXTENDING';
  readonly sizeBytes: number;
  /** While EXTENDING: the size to grow to. */
  readonly resizingTo?: number;
  readonly sourceSnapshotId: string;
  readonly sourceVolumeId: string;
  readonly encrypted: boolean;
  readonly encryptionKeyId: string;
  readonly iopsLimit: number;
  readonly throughputLimit: number;
  readonly attachment?: DesiredAttachment;
  /**
   * On the node its instance is moving to live (or has just moved to, until node_id follows):
   * made empty at its size here and opened by the incoming QEMU, which the source mirrors it
   * into. Nothing else is done with it here: its own node's agent does its work.
   */
  readonly incoming?: true;
}

/** A volume that moved away from this node with its instance: the copy left here is removed, once no QEMU here holds it. */
export interface DepartedVolume {
  readonly id: string;
  readonly instanceId: string;
}

export interface DesiredSnapshot {
  readonly id: string;
  readonly volumeId: string;
  readonly status: 'CREATING' | 'AVAILABLE' | 'DELETING' | 'ERROR';
  /** Its volume moved away: this node (where it is) serves its file for the copy to the volume's node. */
  readonly serve?: true;
  /** On the node it is moving to: where its file is served, to be copied here. */
  readonly incoming?: { readonly host: string; readonly port: number };
}

export interface StorageReply {
  readonly nodeId: string;
  readonly position: number;
  readonly volumes: DesiredVolume[];
  readonly snapshots: DesiredSnapshot[];
  readonly departed?: DepartedVolume[];
  /** Snapshots that moved away from this node: the copies left here are removed. */
  readonly departedSnapshots?: string[];
}
