import { ALLOW, type Decision, denied } from './decision';
import type { Identity } from './identity';

/** What a node may report on: the objects placed on a node (a node's own conditions are about the node itself). */
export type PlacedKind = 'instance' | 'port' | 'router' | 'floating_ip' | 'volume' | 'snapshot' | 'node';

/** Which node is which, from the read models (undefined: no such node or object). */
export interface Placement {
  /** The host name a node id was registered with. */
  hostnameOf(nodeId: string): string | undefined;
  /** The node id an object is placed on ('' when on none). */
  nodeOf(kind: PlacedKind, id: string): string | undefined;
  /** The node an instance is being moved to, while a migration runs (its target reports on it too). */
  movingTo?(instanceId: string): string | undefined;
  /** The nodes a volume moved away from that still hold a copy (each reports its removal). */
  copiesOn?(volumeId: string): readonly string[];
  /** The node a snapshot is being copied to (it reports the copy made). */
  snapshotMovingTo?(snapshotId: string): string | undefined;
  /** The nodes a snapshot moved away from that still hold a copy. */
  snapshotCopiesOn?(snapshotId: string): readonly string[];
}

export const NO_PLACEMENT: Placement = { hostnameOf: () => undefined, nodeOf: () => undefined };

type Req = Record<string, unknown>;

/** The host a node identity stands for: `node:<host>`. */
export const hostOf = (identity: Identity): string | undefined => (identity.role === 'node' ? /^node:(.+)$/.exec(identity.name)?.[1] : undefined);

/** Methods only a node (or the local administrator, development mode's everyone) calls: a user's certificate cannot act as a node. */
const NODE_ONLY = new Set(['/hypervisor.v1.ClusterService/RegisterNode', '/hypervisor.v1.ClusterService/Heartbeat']);

const str = (r: unknown, field: string): string => (typeof (r as Req | undefined)?.[field] === 'string' ? ((r as Req)[field] as string) : '');

/**
 * As Kubernetes' Node authorizer and NodeRestriction: a node identity acts
 * only on itself. It registers only its own host name, heartbeats and sets
 * the status of only its own node; anything else is PERMISSION_DENIED
 * naming the node. A user (`user:*`) never calls what only nodes call.
 */
export const nodeDecision = (identity: Identity, method: string, request: unknown, placement: Placement): Decision => {
  if (identity.name.startsWith('user:') && NODE_ONLY.has(method)) return denied(`${method}: only a node's own certificate may call this; ${identity.name} is a user`);
  const host = hostOf(identity);
  if (host === undefined) return ALLOW;
  const short = method.slice(method.lastIndexOf('/') + 1);
  switch (short) {
    case 'RegisterNode': {
      const asked = str(request, 'hostname');
      return asked === host ? ALLOW : denied(`${method}: ${identity.name} may register only its own host name "${host}", not "${asked}"`);
    }
    case 'Heartbeat':
    case 'UpdateNodeStatus': {
      const nodeId = str(request, 'nodeId');
      const of = placement.hostnameOf(nodeId);
      return of === host ? ALLOW : denied(`${method}: ${identity.name} may act only for its own node; node ${nodeId || '""'} is ${of ? `node:${of}` : 'not its node'}`);
    }
    default:
      return ALLOW;
  }
};

/** A report a node sends as a command (over NATS): the aggregate it is about and the command. */
export interface Report {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: { readonly type: string; readonly data?: unknown };
}

/** What a node may report: the outcome of work on instances, ports and routers placed on it, and images it has. */
const REPORTS: Record<string, PlacedKind | 'any'> = {
  ReportInstanceRunning: 'instance',
  ReportInstanceStopped: 'instance',
  ReportInstanceFailed: 'instance',
  ReportInstanceDeleted: 'instance',
  ReportGuestBooted: 'instance',
  ReportMigrationProgress: 'instance',
  ReportMigrationTargetReady: 'instance',
  ReportInstanceMigrated: 'instance',
  // Either end of a move refuses or abandons it (a target that cannot take it, a source whose send failed).
  FailMigration: 'instance',
  ReportPortStatus: 'port',
  ReportRouterStatus: 'router',
  ReportFloatingIpStatus: 'floating_ip',
  ReportNodeConditions: 'node',
  ReportVolumeReady: 'volume',
  ReportVolumeFailed: 'volume',
  ReportVolumeAttached: 'volume',
  ReportVolumeAttachFailed: 'volume',
  ReportVolumeDetached: 'volume',
  ReportVolumeResized: 'volume',
  ReportVolumeDeleted: 'volume',
  ReportVolumeCopyRemoved: 'volume',
  ReportSnapshotProgress: 'snapshot',
  ReportSnapshotReady: 'snapshot',
  ReportSnapshotFailed: 'snapshot',
  ReportSnapshotDeleted: 'snapshot',
  ReportSnapshotServed: 'snapshot',
  ReportSnapshotCopied: 'snapshot',
  ReportSnapshotCopyRemoved: 'snapshot',
  RegisterImage: 'any',
};

/**
 * A node's report (status, addresses, ports, stats) is for an object placed
 * on that node only; any other command from a node is PERMISSION_DENIED.
 * Identities that are not nodes are not restricted here.
 */
/**
 * Nodes besides the object's own that report on it: during a move the instance's target as
 * well as its source, a snapshot's node-to-be its copy made, a node a volume or snapshot left its copy gone.
 */
const othersOf = (kind: PlacedKind, r: Report, p: Placement): (string | undefined)[] => {
  if (kind === 'instance') return [p.movingTo?.(r.aggregateId)];
  switch (r.command.type) {
    case 'ReportVolumeCopyRemoved':
      return [...(p.copiesOn?.(r.aggregateId) ?? [])];
    case 'ReportSnapshotCopied':
      return [p.snapshotMovingTo?.(r.aggregateId)];
    case 'ReportSnapshotCopyRemoved':
      return [...(p.snapshotCopiesOn?.(r.aggregateId) ?? [])];
    default:
      return [];
  }
};

export const authorizeReport = (identity: Identity, r: Report, placement: Placement): Decision => {
  const host = hostOf(identity);
  if (host === undefined) return ALLOW;
  const kind = REPORTS[r.command.type];
  if (kind === undefined) return denied(`${r.command.type} on ${r.aggregateType} ${r.aggregateId}: ${identity.name} may only report on what is placed on it`);
  if (kind === 'any') return ALLOW;
  if (r.aggregateType !== kind) return denied(`${r.command.type}: is about the ${kind} kind, not ${r.aggregateType}`);
  const others = othersOf(kind, r, placement);
  const places = [placement.nodeOf(kind, r.aggregateId), ...others].filter((n): n is string => !!n);
  const said = str(r.command.data, 'nodeId');
  const mine = places.find((n) => placement.hostnameOf(n) === host);
  if (!mine || (said && said !== mine)) {
    const onHost = places[0] ? placement.hostnameOf(places[0]) : undefined;
    return denied(`${r.command.type}: ${kind} ${r.aggregateId} is not placed on ${identity.name}${onHost ? ` (it is on node:${onHost})` : ''}`);
  }
  return ALLOW;
};
