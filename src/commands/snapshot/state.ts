import type { SnapshotCreatedData, SnapshotEndpoint } from './events';

export type SnapshotStatus = 'CREATING' | 'AVAILABLE' | 'DELETING' | 'ERROR';

export interface SnapshotState extends Partial<SnapshotCreatedData> {
  readonly id: string;
  readonly exists: boolean;
  readonly deleted: boolean;
  readonly status: SnapshotStatus;
  readonly reason: string;
  readonly progressPercent: number;
  /** A move to its volume's node under way: where it goes, and where its node serves its file once it does. */
  readonly moving?: { readonly toNodeId: string; readonly endpoint?: SnapshotEndpoint };
  /** Nodes it moved away from whose copy is not removed yet. */
  readonly leftOn?: readonly string[];
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): SnapshotState => ({ id, exists: false, deleted: false, status: 'CREATING', reason: '', progressPercent: 0 });
