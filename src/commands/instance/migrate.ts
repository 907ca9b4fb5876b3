import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import type { InstanceCommand } from './commands';
import type { InstanceEvent } from './events';
import type { InstanceState } from './state';

type MigrationCommand = Extract<InstanceCommand, { type: 'MigrateInstance' | 'ReportMigrationProgress' | 'ReportMigrationTargetReady' | 'ReportInstanceMigrated' | 'FailMigration' }>;

/**
 * A move of an instance to another node. The instance stays on its node (node_id) until
 * the agents report the switch done; a failure leaves it there with the reason. One move
 * at a time; reports name the move they are about, so a late one of an earlier move is moot.
 * A port follows either kind of move (a second binding on the target: port-hosts.ts). A cold
 * move: the source stops it and serves its disks ('switching', with where), the target copies
 * them ('copying-disks') and makes it, then node_id moves and a RUNNING one is started there; a
 * failure after the stop starts it again on the source.
 */
export const decideMigration = (cmd: MigrationCommand, s: InstanceState): InstanceEvent[] => {
  switch (cmd.type) {
    case 'MigrateInstance': {
      if (!s.exists) throw new NotFound(`instance ${s.id} not found`);
      const { targetNodeId, targetNodeName, live } = cmd.data;
      if (!targetNodeId) throw new InvalidArgument('target_node_id: is required once the target is chosen');
      refuseMigration(s, targetNodeId, live);
      const migration = (s.migrations ?? 0) + 1;
      return [{ type: 'InstanceMigrationRequested', data: { migration, sourceNodeId: s.nodeId, targetNodeId, targetNodeName, live } }];
    }

    case 'ReportMigrationProgress': {
      const m = s.migration;
      // A live source at its switch (paused, the rest of the state unsent) goes on only once the log has taken this:
      // a move given up meanwhile must not switch, so it is told (it cancels, and QEMU lets the guest run on there).
      if (cmd.data.phase === 'switching' && s.exists && !m && s.lastFailedMigration === cmd.data.migration)
        throw new FailedPrecondition(`migration ${cmd.data.migration} of instance ${s.id} has failed already; it stays on node ${s.nodeName || s.nodeId}, not switched over`);
      if (!s.exists || !m || m.id !== cmd.data.migration || !ofMove(s, cmd.data.nodeId)) return [];
      const { phase, percent, expectedDowntimeMs } = cmd.data;
      const pct = Math.max(0, Math.min(100, Math.round(percent)));
      // Where a cold move's source serves its disks: said by the source only, and only by a cold one.
      const endpoint = !m.live && cmd.data.nodeId === s.nodeId ? cmd.data.endpoint : undefined;
      if (m.phase === phase && m.percent === pct && m.expectedDowntimeMs === expectedDowntimeMs && !endpoint) return [];
      // Once a live move is switching, a sample of the copy sent before (reports are not ordered) is stale.
      if (m.live && m.phase === 'switching' && phase !== 'switching') return [];
      return [
        {
          type: 'InstanceMigrationProgressed',
          data: { migration: m.id, phase, percent: pct, ...(expectedDowntimeMs !== undefined ? { expectedDowntimeMs } : {}), ...(endpoint ? { endpoint } : {}) },
        },
      ];
    }

    case 'ReportMigrationTargetReady': {
      const m = s.migration;
      if (!s.exists || !m || m.id !== cmd.data.migration || cmd.data.nodeId !== m.targetNodeId || m.endpoint) return [];
      return [{ type: 'InstanceMigrationTargetReady', data: { migration: m.id, endpoint: cmd.data.endpoint } }];
    }

    case 'ReportInstanceMigrated': {
      const m = s.migration;
      // Given up already (the control plane's deadline, an agent's failure) while QEMU went on: the guest stays
      // on the source, and its agents must hear so (the source lets its paused guest run, the target removes its own).
      if (s.exists && !m && s.lastFailedMigration === cmd.data.migration)
        throw new FailedPrecondition(`migration ${cmd.data.migration} of instance ${s.id} has failed already; it stays on node ${s.nodeName || s.nodeId}`);
      if (!s.exists || !m || m.id !== cmd.data.migration || !ofMove(s, cmd.data.nodeId)) return [];
      // cold: the source kept its stopped copy (and its disks) for a failure; it is told to remove it now. The target
      // made it and waits: a RUNNING one is started there by a new generation of start work, sent once this is in the
      // log, so a move given up before never has it running on both nodes.
      const cold = m.live ? {} : { cold: true as const, ...(s.status === 'RUNNING' ? { startGeneration: s.generation + 1 } : {}) };
      return [{ type: 'InstanceMigrated', data: { migration: m.id, nodeId: m.targetNodeId, nodeName: m.targetNodeName, fromNodeId: s.nodeId, ...cold } }];
    }

    case 'FailMigration': {
      const m = s.migration;
      // An agent's failure of a move the log has completed (the destination loaded the state and reported it, the
      // source did not hear so and gave up): the guest belongs to the target now, so that source must not resume its
      // paused copy; being told, it removes it. (The control plane's own deadline, with no node, is moot then.)
      if (cmd.data.nodeId !== undefined && s.exists && !m && s.lastMigrated === cmd.data.migration)
        throw new FailedPrecondition(`migration ${cmd.data.migration} of instance ${s.id} has completed already; it runs on node ${s.nodeName || s.nodeId}`);
      if (!s.exists || !m || m.id !== cmd.data.migration) return [];
      if (cmd.data.nodeId !== undefined && !ofMove(s, cmd.data.nodeId)) return [];
      // A cold move's source has stopped it once it said 'switching': a RUNNING one is started there again.
      const restart = !m.live && m.phase !== 'preparing' && s.status === 'RUNNING';
      return [{ type: 'InstanceMigrationFailed', data: { migration: m.id, reason: cmd.data.reason, ...(restart ? { startGeneration: s.generation + 1 } : {}) } }];
    }
  }
};

/** Why this instance cannot begin a move now (FAILED_PRECONDITION), or nothing ('' target: any but its own node). */
export const refuseMigration = (s: InstanceState, targetNodeId: string, live: boolean): void => {
  const no = (why: string) => {
    throw new FailedPrecondition(`instance ${s.id} cannot move: ${why}`);
  };
  if (s.migration) no(`it is already migrating to node ${s.migration.targetNodeName || s.migration.targetNodeId} (${s.migration.phase}, ${s.migration.percent}%); wait for that move to end`);
  if (s.status === 'DELETING') no('it is being deleted');
  if (live && s.kind === 'container')
    no('a container cannot move live (its processes are not checkpointed); use live=false for a cold move (stopped, moved, started again)');
  if (!s.nodeId) no(`it is ${s.status} on no node; there is nothing to move`);
  if (s.pending) no(`a ${s.pending.kind} is in progress; move it once that has ended`);
  if (live && s.status !== 'RUNNING') no(`it is ${s.status}; only a RUNNING instance moves live (use live=false to move it cold)`);
  if (!live && s.status !== 'RUNNING' && s.status !== 'STOPPED') no(`it is ${s.status}; only a RUNNING or STOPPED instance can be moved`);
  // A container's named volumes (spec.volume_mounts) are host directories, possibly shared with other containers of its node: they are not carried.
  if (!live && s.spec?.volumeMounts?.length)
    no(`it mounts node-local volumes (${s.spec.volumeMounts.map((v) => v.name).join(', ')}), which stay on their node; use StorageService volumes (their data moves with it)`);
  if (targetNodeId && targetNodeId === s.nodeId) no(`it is already on node ${s.nodeName || s.nodeId}`);
};

/** A report about a move counts from its source or its target only. */
const ofMove = (s: InstanceState, nodeId: string): boolean => nodeId === s.nodeId || nodeId === s.migration?.targetNodeId;

/** Why a stop, a restart or a start must wait for a move, or nothing. */
export const refuseWhileMigrating = (s: InstanceState, what: string): void => {
  if (s.migration) throw new FailedPrecondition(`instance ${s.id} is migrating to node ${s.migration.targetNodeName || s.migration.targetNodeId}; ${what} it once the move has ended`);
};
