import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import type { FailureCause, InstanceCommand } from './commands';
import type { InstanceEvent } from './events';
import type { InstanceState } from './state';
import { validateRequest } from './validate';
import { decideMigration, refuseWhileMigrating } from './migrate';
import { decideDrainAndEvacuation } from './drain-evacuate';

/**
 * The instance's state machine:
 *
 *   PENDING ──ScheduleInstance──▶ CREATING ──agent: running──▶ RUNNING ⇄ STOPPED
 *      │  ▲                          │                          │ (stop / start / restart are
 *      │  └──StartInstance── FAILED ◀┘ (nothing fits, agent       │  generations of work for the agent)
 *      └──FailInstance──────▶        failed, no answer)  ◀──crash┘
 *   any ──DeleteInstance──▶ DELETING ──agent: deleted──▶ (gone)   (at once when no node holds it)
 *   RUNNING/STOPPED ──MigrateInstance──▶ same status, migration set ──agents: migrated──▶ node_id = target
 *                                                                  └──failed / timed out──▶ stays, with the reason
 */
export const decide = (cmd: InstanceCommand, s: InstanceState): InstanceEvent[] => {
  const next = s.generation + 1;
  switch (cmd.type) {
    case 'CreateInstance': {
      validateRequest(cmd.data);
      if (s.exists || s.deleted) {
        // The same request again (a retry with the same request id) changes nothing.
        if (!s.deleted && s.name === cmd.data.name && JSON.stringify(s.spec) === JSON.stringify(cmd.data.spec)) return [];
        throw new FailedPrecondition(`instance ${s.id} already exists${s.deleted ? ' (deleted)' : ''}; use a new request id`);
      }
      return [{ type: 'InstanceRequested', data: cmd.data }];
    }

    case 'ScheduleInstance': {
      requireExists(s);
      if (s.status !== 'PENDING') throw new FailedPrecondition(`instance ${s.id} is ${s.status}, not PENDING: it cannot be scheduled`);
      if (s.nodeId && s.nodeId !== cmd.data.nodeId)
        throw new FailedPrecondition(`instance ${s.id} has its disks on node ${s.nodeId}; it can only start there`);
      return [{ type: 'InstanceScheduled', data: { nodeId: cmd.data.nodeId, nodeName: cmd.data.nodeName, generation: next } }];
    }

    case 'FailInstance': {
      requireExists(s);
      const { reason, generation } = cmd.data;
      // A timeout for work that has since been reported on, or superseded, is moot.
      if (generation !== undefined && (generation !== s.generation || !s.pending)) return [];
      if (s.status === 'FAILED') return [];
      if (s.status === 'PENDING')
        return [{ type: 'InstanceFailed', data: { generation: next, reason, ...(s.nodeId ? { leftNodeId: s.nodeId } : {}) } }];
      if (generation === undefined) throw new FailedPrecondition(`instance ${s.id} is ${s.status}; only a PENDING instance fails without a generation`);
      return [failed(s, next, reason, cmd.data.cause ?? 'node')];
    }

    case 'AttachInstanceNetwork': {
      requireExists(s);
      if (!s.spec?.network) throw new FailedPrecondition(`instance ${s.id} asked for no network`);
      if (s.network?.portId === cmd.data.portId) return [];
      if (s.network) throw new FailedPrecondition(`instance ${s.id} already has port ${s.network.portId}`);
      return [{ type: 'InstanceNetworkAttached', data: cmd.data }];
    }

    case 'StartInstance': {
      requireLive(s);
      refuseWhileMigrating(s, 'start');
      if (s.status === 'FAILED') return [{ type: 'InstanceRescheduled', data: { generation: next } }];
      if (s.status === 'STOPPED') {
        if (s.pending?.kind === 'start') return [];
        return [{ type: 'InstanceStartRequested', data: { generation: next } }];
      }
      if (s.status === 'RUNNING' && s.pending?.kind === 'stop')
        throw new FailedPrecondition(`instance ${s.id} is stopping; start it once it is STOPPED`);
      throw new FailedPrecondition(`instance ${s.id} is ${s.status}; only a STOPPED or FAILED instance can be started`);
    }

    case 'StopInstance': {
      requireLive(s);
      refuseWhileMigrating(s, 'stop');
      const { force, timeoutSeconds } = cmd.data;
      if (s.status === 'RUNNING') {
        // The same stop again waits for the first; a forced stop overtakes a graceful one.
        if (s.pending?.kind === 'stop' && (s.pending.force || !force)) return [];
        if (s.pending?.kind === 'restart' && !force) throw new FailedPrecondition(`instance ${s.id} is restarting; stop it with force, or once it is RUNNING`);
        return [{ type: 'InstanceStopRequested', data: { generation: next, force, timeoutSeconds } }];
      }
      if (s.status === 'STOPPED' && s.pending?.kind === 'start')
        throw new FailedPrecondition(`instance ${s.id} is starting; stop it once it is RUNNING`);
      throw new FailedPrecondition(`instance ${s.id} is ${s.status}; only a RUNNING instance can be stopped`);
    }

    case 'RestartInstance': {
      requireLive(s);
      refuseWhileMigrating(s, 'restart');
      if (s.status !== 'RUNNING' || s.pending)
        throw new FailedPrecondition(
          s.status === 'STOPPED'
            ? `instance ${s.id} is STOPPED; use StartInstance`
            : `instance ${s.id} is ${s.status}${s.pending ? ` (${s.pending.kind} in progress)` : ''}; only a RUNNING instance can be restarted`,
        );
      return [{ type: 'InstanceRestartRequested', data: { generation: next, force: cmd.data.force } }];
    }

    case 'DeleteInstance': {
      requireExists(s);
      const { force, withoutNode } = cmd.data;
      // Nothing runs anywhere for it (never scheduled, or gave its node up), or nobody is left to ask.
      if (!s.nodeId || withoutNode) return [{ type: 'InstanceDeleted', data: { reason: withoutNode ? `deleted without its node: ${withoutNode}` : 'deleted' } }];
      if (s.status === 'DELETING' && (s.pending?.kind !== 'delete' || s.pending.force || !force)) return [];
      return [{ type: 'InstanceDeletionRequested', data: { generation: next, force } }];
    }

    case 'ReportInstanceRunning': {
      if (!current(s, cmd.data)) return [];
      const k = s.pending?.kind;
      if (s.status === 'CREATING' || k === 'start' || k === 'restart')
        return [{ type: 'InstanceRunning', data: { generation: cmd.data.generation, startedAt: cmd.data.startedAt } }];
      // Already RUNNING for this generation: the report is a repeat (an agent restart).
      return [];
    }

    case 'ReportGuestBooted':
      // Once: a repeated phone-home (an agent restart, a guest that phones every boot) adds nothing.
      if (!current(s, cmd.data) || s.guestBootedAt || s.status !== 'RUNNING') return [];
      return [{ type: 'InstanceGuestBooted', data: { generation: cmd.data.generation, at: cmd.data.at } }];

    case 'ReportInstanceStopped': {
      if (!current(s, cmd.data)) return [];
      // A cold move stops it on the source on purpose; it runs on after the move.
      if (s.migration && !s.migration.live) return [];
      const k = s.pending?.kind;
      if (k === 'stop' || (s.status === 'RUNNING' && !s.pending))
        return [{ type: 'InstanceStopped', data: { generation: cmd.data.generation, reason: cmd.data.reason } }];
      return [];
    }

    case 'ReportInstanceFailed': {
      if (!current(s, cmd.data) || s.status === 'FAILED') return [];
      if (s.status === 'DELETING') return []; // failing to run something being deleted changes nothing
      return [failed(s, next, cmd.data.reason, cmd.data.cause ?? 'node')];
    }

    case 'ReportInstanceDeleted': {
      if (!current(s, cmd.data) || s.status !== 'DELETING') return [];
      return [{ type: 'InstanceDeleted', data: { reason: 'deleted' } }];
    }

    case 'MigrateInstance':
    case 'ReportMigrationProgress':
    case 'ReportMigrationTargetReady':
    case 'ReportInstanceMigrated':
    case 'FailMigration':
      return decideMigration(cmd, s);

    case 'RecordDrainBlocked':
    case 'ClearDrainBlocked':
    case 'EvacuateInstance':
      return decideDrainAndEvacuation(cmd, s);

    default:
      throw new InvalidArgument(`unknown instance command ${(cmd as { type: string }).type}`);
  }
};

export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * A failure before the instance ever ran on its node gives the node up; a later one keeps
 * it (its disks are there). A create that failed for a reason of the node is tried on
 * another node while attempts are left; a failure of the spec is final at once.
 */
const failed = (s: InstanceState, generation: number, reason: string, cause: FailureCause): InstanceEvent => {
  if (s.status !== 'CREATING' || !s.nodeId) return { type: 'InstanceFailed', data: { generation, reason } };
  const attempt = (s.attempts ?? 0) + 1;
  const max = s.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (cause === 'node' && attempt < max)
    return { type: 'InstanceAttemptFailed', data: { generation, nodeId: s.nodeId, nodeName: s.nodeName, attempt, reason } };
  const final = attempt > 1 ? `${reason} (attempt ${attempt} of ${max}; the earlier ones failed on other nodes)` : reason;
  return { type: 'InstanceFailed', data: { generation, reason: final, leftNodeId: s.nodeId } };
};

/** A report counts only from the instance's node and about its current generation. */
const current = (s: InstanceState, r: { nodeId: string; generation: number }): boolean =>
  s.exists && r.nodeId === s.nodeId && r.generation === s.generation;

const requireExists = (s: InstanceState) => {
  if (!s.exists) throw new NotFound(`instance ${s.id} not found`);
};

const requireLive = (s: InstanceState) => {
  requireExists(s);
  if (s.status === 'DELETING') throw new FailedPrecondition(`instance ${s.id} is being deleted`);
};
