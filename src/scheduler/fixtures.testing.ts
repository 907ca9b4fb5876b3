import { type Resources, ZERO } from '../domain/resources';
import type { CandidateNode, SchedulingRequest } from './scheduler';

/** The nodes and requests the scheduler's tests place: a READY 8-core, 16 GiB, 100 GiB node in eu-1a, a 2-core 4 GiB VM. */
export const GiB = 2 ** 30;

export const res = (cpuCores: number, memGiB: number, diskGiB = 0, gpuCount = 0): Resources => ({ cpuCores, memoryBytes: memGiB * GiB, diskBytes: diskGiB * GiB, gpuCount });

export const node = (id: string, over: Partial<CandidateNode> = {}): CandidateNode => ({
  id,
  hostname: `host-${id}`,
  ready: true,
  status: 'READY',
  region: 'eu-1',
  zone: 'eu-1a',
  supported: ['vm', 'microvm'],
  capacity: res(8, 16, 100),
  allocated: ZERO,
  ...over,
});

export const req = (over: Partial<SchedulingRequest> = {}): SchedulingRequest => ({
  instanceId: 'i-1',
  kind: 'vm',
  resources: res(2, 4),
  preferredNodeId: '',
  region: '',
  zone: '',
  ...over,
});
