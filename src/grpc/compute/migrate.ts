import type { ComputeServiceServer } from '../../gen/hypervisor/v1/compute';
import { beginMove } from '../../processes/migration/begin-move';
import { unary } from '../../shared/grpc-unary';
import { originOf } from '../request-context';
import { type ComputeServiceDeps, requireInstance } from './context';

/**
 * MigrateInstance (deliberate change 4): checks the target (or lets the scheduler choose
 * one), records the move, and answers once it is accepted; the agents carry it out and
 * WatchInstance shows its progress in state_reason until node_id changes.
 */
export const migrateMethods = (d: ComputeServiceDeps): Pick<ComputeServiceServer, 'migrateInstance'> => ({
  migrateInstance: unary(d.log, 'MigrateInstance', async (req, call) => {
    requireInstance(d, req.instanceId);
    await beginMove(d, d.instances.state(req.instanceId)!, req.targetNodeId, req.live, originOf(call));
    return requireInstance(d, req.instanceId);
  }),
});
