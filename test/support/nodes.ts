import { RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeRole } from '../../src/gen/hypervisor/v1/common';

/**
 * A RegisterNode request for a node no agent runs: a worker with room for a
 * few small VMs. A test names what it is about (its region, address,
 * capacity, labels) in `over`.
 */
export const nodeRegistration = (hostname: string, over: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest =>
  RegisterNodeRequest.fromPartial({
    hostname,
    ip: '10.0.0.1',
    port: 50052,
    role: NodeRole.NODE_ROLE_WORKER,
    capacity: { cpuCores: 4, memoryBytes: 2n ** 33n },
    supportedInstanceTypes: ['vm'],
    ...over,
  });
