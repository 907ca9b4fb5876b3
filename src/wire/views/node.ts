import type { Node } from '../../gen/hypervisor/v1/cluster';
import { NodeRole, NodeStatus } from '../../gen/hypervisor/v1/common';
import { allocated } from '../../commands/node/decide';
import type { NodeState } from '../../commands/node/state';
import { resourcesToWire } from '../int64';

const ROLE = { MASTER: NodeRole.NODE_ROLE_MASTER, WORKER: NodeRole.NODE_ROLE_WORKER } as const;
const STATUS = {
  READY: NodeStatus.NODE_STATUS_READY,
  NOT_READY: NodeStatus.NODE_STATUS_NOT_READY,
  MAINTENANCE: NodeStatus.NODE_STATUS_MAINTENANCE,
  DRAINING: NodeStatus.NODE_STATUS_DRAINING,
} as const;

/** The Node message for a registered node; undefined once deregistered. */
export const toNode = (s: NodeState): Node | undefined =>
  s.registered
    ? {
        id: s.id,
        hostname: s.hostname,
        ip: s.ip,
        port: s.port,
        role: ROLE[s.role],
        status: STATUS[s.status],
        region: s.region,
        zone: s.zone,
        capacity: resourcesToWire(s.capacity),
        // Nothing is held back for the host itself: all of it can be scheduled.
        allocatable: resourcesToWire(s.capacity),
        allocated: resourcesToWire(allocated(s)),
        conditions: s.conditions.map((c) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
          lastTransitionTime: c.lastTransitionTime ? new Date(c.lastTransitionTime) : undefined,
        })),
        metadata: { labels: s.labels, annotations: s.annotations },
        supportedInstanceTypes: s.supportedInstanceTypes,
        createdAt: s.createdAt,
        lastSeen: undefined,
      }
    : undefined;

export const nodeStatusFromProto = (v: NodeStatus): NodeState['status'] | undefined =>
  (Object.keys(STATUS) as NodeState['status'][]).find((k) => STATUS[k] === v);
export const nodeRoleFromProto = (v: NodeRole): NodeState['role'] | undefined =>
  (Object.keys(ROLE) as NodeState['role'][]).find((k) => ROLE[k] === v);
