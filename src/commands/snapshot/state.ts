import type { SnapshotCreatedData } from './events';

export type SnapshotStatus = 'CREATING' | 'AVAILABLE' | 'DELETING' | 'ERROR';

export interface SnapshotState extends Partial<SnapshotCreatedData> {
  readonly id: string;
  readonly exists: boolean;
  readonly deleted: boolean;
  readonly status: SnapshotStatus;
  readonly reason: string;
  readonly progressPercent: number;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): SnapshotState => ({ id, exists: false, deleted: false, status: 'CREATING', reason: '', progressPercent: 0 });
