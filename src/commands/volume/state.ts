import type { Attachment } from './events';
import type { VolumeSpec } from './spec';

export type VolumeStatus = 'CREATING' | 'AVAILABLE' | 'IN_USE' | 'DELETING' | 'ERROR' | 'EXTENDING';

export interface VolumeState extends Partial<VolumeSpec> {
  readonly id: string;
  readonly exists: boolean;
  readonly deleted: boolean;
  readonly status: VolumeStatus;
  readonly reason: string;
  readonly nodeId: string;
  /** Current size (the target while EXTENDING is resizingTo). */
  readonly sizeBytes: number;
  readonly attachment?: Attachment & {
    readonly attachedAt: Date;
    /** The agent reported the disk in the running instance. */
    readonly applied: boolean;
    /** q35: the hot-plug port it is on (hp0..hp7), as reported. */
    readonly bus?: string;
    readonly detaching?: { readonly force: boolean; readonly since: Date };
  };
  readonly resizingTo?: number;
  /** Nodes the volume moved away from whose copy is not removed yet (their storage work removes it). */
  readonly leftOn?: readonly string[];
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): VolumeState => ({
  id,
  exists: false,
  deleted: false,
  status: 'CREATING',
  reason: '',
  nodeId: '',
  sizeBytes: 0,
});

/** The status a volume rests in once no work runs on it. */
export const restingStatus = (s: Pick<VolumeState, 'attachment'>): VolumeStatus => (s.attachment ? 'IN_USE' : 'AVAILABLE');
