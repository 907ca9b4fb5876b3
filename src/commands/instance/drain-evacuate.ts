import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { restartPolicyOf } from '../../domain/restart-policy';
import type { InstanceCommand } from './commands';
import type { InstanceEvent } from './events';
import type { InstanceState } from './state';

type Command = Extract<InstanceCommand, { type: 'RecordDrainBlocked' | 'ClearDrainBlocked' | 'EvacuateInstance' }>;

/**
 * What a drain and an evacuation record on the instance. A drain that cannot move it says
 * why on the instance itself (state_reason), once per reason; a cancelled drain takes
 * that back. An evacuation gives up the instance's dead node and its local disks there:
 * the instance goes back to PENDING, to be created elsewhere from its image.
 */
export const decideDrainAndEvacuation = (cmd: Command, s: InstanceState): InstanceEvent[] => {
  switch (cmd.type) {
    case 'RecordDrainBlocked': {
      const { nodeId, reason } = cmd.data;
      if (!reason) throw new InvalidArgument('reason: is required');
      // Moved, moving, or gone meanwhile: the drain's reason is moot.
      if (!s.exists || s.status === 'DELETING' || s.nodeId !== nodeId || s.migration) return [];
      if (s.drainBlocked === reason) return [];
      return [{ type: 'InstanceDrainBlocked', data: { nodeId, reason } }];
    }

    case 'ClearDrainBlocked':
      if (!s.exists || s.drainBlocked === undefined) return [];
      return [{ type: 'InstanceDrainCleared', data: {} }];

    case 'EvacuateInstance': {
      if (!s.exists) throw new NotFound(`instance ${s.id} not found`);
      const { fromNodeId, reason } = cmd.data;
      // Already evacuated (a redelivery), moved, or being deleted (the delete has its own way without the node).
      if (s.nodeId !== fromNodeId || s.status === 'DELETING') return [];
      if (restartPolicyOf(s.annotations) === 'never')
        throw new FailedPrecondition(`instance ${s.id} has restart policy never; it is not evacuated (set hypervisor.restart-policy to on-failure or always)`);
      if (s.status !== 'RUNNING' && s.status !== 'CREATING')
        throw new FailedPrecondition(`instance ${s.id} is ${s.status}; only an instance meant to run is evacuated`);
      // A move off the dead node ends at its own deadline first; then the instance is evacuated.
      if (s.migration) throw new FailedPrecondition(`instance ${s.id} is migrating; it is evacuated once that move has ended`);
      return [{ type: 'InstanceEvacuated', data: { generation: s.generation + 1, fromNodeId, fromNodeName: s.nodeName, reason } }];
    }
  }
};
