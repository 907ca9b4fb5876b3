import { add, shortfall, sub, ZERO } from '../../domain/resources';
import { FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import type { NodeCommand, NodeDetails } from './commands';
import type { NodeEvent } from './events';
import type { NodeState, NodeStatus } from './state';
import { validateRegistration } from './validate';

/** Status changes an operator asks for become these commands to the agent. */
const AGENT_COMMAND: Partial<Record<NodeStatus, string>> = { DRAINING: 'drain', MAINTENANCE: 'maintenance', READY: 'resume' };

export const decide = (cmd: NodeCommand, s: NodeState): NodeEvent[] => {
  switch (cmd.type) {
    case 'RegisterNode': {
      validateRegistration(cmd.data);
      if (!s.registered) return [{ type: 'NodeRegistered', data: cmd.data }];
      const events: NodeEvent[] = [];
      if (!sameDetails(s, cmd.data)) events.push({ type: 'NodeReregistered', data: cmd.data });
      // A node that says hello is alive; an operator's MAINTENANCE or DRAINING stays.
      if (s.status === 'NOT_READY')
        events.push({ type: 'NodeStatusChanged', data: { from: s.status, to: 'READY', reason: 'node registered again' } });
      return events;
    }
    case 'DeregisterNode': {
      requireRegistered(s);
      const hosted = Object.keys(s.reservations).length;
      if (hosted > 0)
        throw new FailedPrecondition(`node ${s.id} still hosts ${hosted} instance(s); delete or move them first`);
      const stored = Object.keys(s.storage ?? {}).length;
      if (stored > 0)
        throw new FailedPrecondition(`node ${s.id} still holds ${stored} volume(s) or snapshot(s); delete them first`);
      return [{ type: 'NodeDeregistered', data: {} }];
    }
    case 'UpdateNodeStatus': {
      requireRegistered(s);
      const { status, conditions, commandId } = cmd.data;
      const events: NodeEvent[] = [];
      if (status !== s.status) {
        events.push({ type: 'NodeStatusChanged', data: { from: s.status, to: status, reason: 'set by operator' } });
        const command = AGENT_COMMAND[status];
        if (command) events.push({ type: 'NodeCommandIssued', data: { id: commandId, command, parameters: { status } } });
      }
      if (conditions && JSON.stringify(stripTimes(conditions)) !== JSON.stringify(stripTimes(s.conditions)))
        events.push({ type: 'NodeConditionsUpdated', data: { conditions: stripTimes(conditions) } });
      return events;
    }
    case 'ReportNodeConditions': {
      requireRegistered(s);
      const merged = mergeByType(s.conditions, cmd.data.conditions);
      if (JSON.stringify(stripTimes(merged)) === JSON.stringify(stripTimes(s.conditions))) return [];
      return [{ type: 'NodeConditionsUpdated', data: { conditions: stripTimes(merged) } }];
    }
    case 'MarkNodeNotReady':
      if (!s.registered || s.status !== 'READY') return [];
      return [{ type: 'NodeStatusChanged', data: { from: s.status, to: 'NOT_READY', reason: cmd.data.reason } }];
    case 'MarkNodeReady':
      if (!s.registered || s.status !== 'NOT_READY') return [];
      return [{ type: 'NodeStatusChanged', data: { from: s.status, to: 'READY', reason: 'heartbeat received' } }];
    case 'ReserveCapacity': {
      const { instanceId, resources, kind } = cmd.data;
      if (s.reservations[instanceId]) return []; // redelivered: already held
      requireRegistered(s);
      if (s.status !== 'READY') throw new FailedPrecondition(`node ${s.id} is ${s.status}, not READY`);
      if (!s.supportedInstanceTypes.includes(kind))
        throw new FailedPrecondition(`node ${s.id} does not run ${kind} instances`);
      const short = shortfall(sub(s.capacity, allocated(s)), resources);
      if (short) throw new ResourceExhausted(`node ${s.id} has not enough free ${short}`);
      return [{ type: 'CapacityReserved', data: { instanceId, resources } }];
    }
    case 'ReleaseCapacity': {
      const held = s.reservations[cmd.data.instanceId];
      if (!held) return []; // never held, or already released
      return [{ type: 'CapacityReleased', data: { instanceId: cmd.data.instanceId, resources: held } }];
    }
    case 'ReserveStorage': {
      const { key, bytes } = cmd.data;
      const held = s.storage?.[key] ?? 0;
      if (held >= bytes) return []; // redelivered: already held
      requireRegistered(s);
      if (s.status !== 'READY') throw new FailedPrecondition(`node ${s.id} is ${s.status}, not READY`);
      const free = s.capacity.diskBytes - allocated(s).diskBytes;
      if (bytes - held > free) throw new ResourceExhausted(`node ${s.id} has ${free} bytes of storage free, ${bytes - held} more are needed`);
      return [{ type: 'StorageReserved', data: { key, bytes } }];
    }
    case 'ReleaseStorage': {
      const held = s.storage?.[cmd.data.key];
      if (held === undefined) return [];
      return [{ type: 'StorageReleased', data: { key: cmd.data.key, bytes: held } }];
    }
    default:
      throw new InvalidArgument(`unknown node command ${(cmd as { type: string }).type}`);
  }
};

/** What instances hold, plus the storage volumes and snapshots hold (as disk). */
export const allocated = (s: NodeState) => {
  const instances = Object.values(s.reservations).reduce(add, ZERO);
  const storage = Object.values(s.storage ?? {}).reduce((a, b) => a + b, 0);
  return storage ? { ...instances, diskBytes: instances.diskBytes + storage } : instances;
};

const requireRegistered = (s: NodeState) => {
  if (!s.registered) throw new NotFound(`node ${s.id} not found`);
};

const sameDetails = (s: NodeState, d: NodeDetails) =>
  JSON.stringify([s.hostname, s.ip, s.port, s.role, s.region, s.zone, s.capacity, s.labels, s.annotations, s.supportedInstanceTypes]) ===
  JSON.stringify([d.hostname, d.ip, d.port, d.role, d.region, d.zone, d.capacity, d.labels, d.annotations, d.supportedInstanceTypes]);

/** The old conditions with those of the reported types replaced (reported order, after the rest). */
export const mergeByType = <C extends { type: string }>(old: readonly C[], reported: readonly C[]): C[] => {
  const types = new Set(reported.map((c) => c.type));
  return [...old.filter((c) => !types.has(c.type)), ...reported];
};

const stripTimes = (cs: readonly { type: string; status: string; reason: string; message: string }[]) =>
  cs.map(({ type, status, reason, message }) => ({ type, status, reason, message }));
