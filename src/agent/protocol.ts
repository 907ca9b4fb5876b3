/**
 * What the control plane and the agents say to each other over NATS.
 *
 * - Work: JetStream stream HV_AGENT_WORK (work-queue retention), one subject
 *   per node and instance, `hv.agent.<nodeId>.instance.<instanceId>`. Each
 *   agent reads its node's subjects with its own durable consumer
 *   (`agent-<nodeId>`, filter `hv.agent.<nodeId>.>`), so work sent while it
 *   was down waits for it. Nats-Msg-Id = `<instanceId>:<generation>:<action>`.
 * - Desired state: core request `hv.ctl.agent.desired` {nodeId} → what the
 *   control plane says runs on that node, with the work still due; the
 *   agent's reconcile compares it with what runs.
 * - Image lookup: core request `hv.ctl.image.resolve` {ref} → ImageSource.
 * - Network plan: core request `hv.ctl.agent.network` {nodeId} → the node's
 *   HostPlan (src/domain/host-plan.ts); `hv.ctl.network.changed` (core, no body) is
 *   published after each commit that touches the network model, so agents
 *   converge at once instead of at their next period.
 * - Outcomes travel back as commands on the command bus (`hv.cmd.instance`,
 *   `hv.cmd.image`), like any other command.
 */
import type { InstanceKind } from '../domain/instance-types';
import type { Resources } from '../domain/resources';
import type { ImageSource, InstanceSpecData, ResolvedImages } from '../commands/instance/spec';
import type { InstanceStatus, MigrationEndpoint } from '../commands/instance/state';
import type { HostPlan } from '../domain/host-plan';

export const WORK_STREAM = 'HV_AGENT_WORK';
export const WORK_SUBJECTS = 'hv.agent.>';
export const workSubject = (nodeId: string, instanceId: string) => `hv.agent.${nodeId}.instance.${instanceId}`;
export const nodeWorkFilter = (nodeId: string) => `hv.agent.${nodeId}.>`;
export const consumerName = (nodeId: string) => `agent-${nodeId}`;
/** A node's inbox prefix on a confined NATS: replies to its requests reach it alone. */
export const nodeInbox = (nodeId: string) => `_INBOX_${nodeId}`;
export const DESIRED_SUBJECT = 'hv.ctl.agent.desired';
export const IMAGE_RESOLVE_SUBJECT = 'hv.ctl.image.resolve';
export const NETWORK_PLAN_SUBJECT = 'hv.ctl.agent.network';
export const NETWORK_CHANGED_SUBJECT = 'hv.ctl.network.changed';
/**
 * A control request on a confined NATS goes to `<subject>.<nodeId>`: NATS
 * lets a node publish only its own, and the control plane answers for the
 * node the subject names (never the body's), so a node reads only its own plan.
 */
export const perNodeSubject = (subject: string, nodeId: string) => `${subject}.${nodeId}`;
/** The node a control request is for: the subject's last token when it is a per-node one, else what the body says. */
export const requestedNode = (base: string, subject: string, bodyNodeId: string): string => (subject.startsWith(`${base}.`) ? subject.slice(base.length + 1) : bodyNodeId);

export interface NetworkPlanReply {
  readonly nodeId: string;
  readonly position: number;
  readonly plan: HostPlan;
}
/** Server processes answer control requests in this queue group. */
export const CTL_QUEUE = 'hv-ctl';

/** migrate-in: the target prepares a destination QEMU (cold: makes the container); migrate-out: the source sends the guest there (cold: stops it). */
export type WorkAction = 'create' | 'start' | 'stop' | 'restart' | 'delete' | 'cleanup' | 'migrate-in' | 'migrate-out';

/** A move's part of migrate-in / migrate-out work (the instance's generation does not change while it moves). */
export interface MigrationWork {
  readonly id: number;
  readonly sourceNodeId: string;
  readonly targetNodeId: string;
  /** Live migrate-out: where the target listens. Cold migrate-in: where the stopped source serves the disks. */
  readonly endpoint?: MigrationEndpoint;
  /**
   * A cold move: migrate-out stops it on the source and serves its disks; migrate-in copies them,
   * makes it on the target and announces it if it ran (`running`: start work follows once it moved);
   * cleanup removes the source's copy once it moved.
   */
  readonly cold?: { readonly running: boolean };
}

/** One generation of work for one instance. Everything needed to do it is in the message. */
export interface InstanceWork {
  readonly instanceId: string;
  readonly nodeId: string;
  readonly generation: number;
  readonly action: WorkAction;
  /** Log position of the decision that asked for it. */
  readonly position: number;
  readonly force?: boolean;
  readonly timeoutSeconds?: number;
  readonly name: string;
  readonly kind: InstanceKind;
  readonly spec: InstanceSpecData;
  readonly images: ResolvedImages;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly resources: Resources;
  /** Carried into the agent's reports, so one request can be followed end to end. */
  readonly correlationId: string;
  /** The instance's ports with their networks and groups, as the node should realise them (absent: no network). */
  readonly network?: HostPlan;
  readonly migration?: MigrationWork;
}

export interface DesiredInstance {
  readonly instanceId: string;
  readonly status: InstanceStatus;
  readonly generation: number;
  /** Work asked for and not reported on yet. */
  readonly work?: InstanceWork;
}

export interface DesiredRequest {
  readonly nodeId: string;
}

export interface DesiredReply {
  readonly nodeId: string;
  /** The log position the answer reflects. */
  readonly position: number;
  readonly instances: DesiredInstance[];
}

export type ResolveReply = { ok: true; source: ImageSource } | { ok: false; code: number; message: string };

export const msgId = (w: Pick<InstanceWork, 'instanceId' | 'generation' | 'action' | 'migration'>) =>
  `${w.instanceId}:${w.generation}:${w.action}${w.migration ? `:${w.migration.id}` : ''}`;

/**
 * Whether doing this work may have changed the host's data plane, so the
 * network agent converges right after it: ports made or given up, a guest
 * moved. Work of an instance without a port (a create, start or stop) leaves
 * it as it was; the periodic converge and the control plane's
 * network-changed message are still there. A delete or cleanup carries no
 * plan: `before` is the work this host last did for the instance, and its
 * ports, if it had any, go (no record: it may have had some).
 */
export const touchesNetwork = (w: Pick<InstanceWork, 'action' | 'network' | 'migration'>, before?: Pick<InstanceWork, 'network' | 'migration'>): boolean => {
  const ports = (x?: Pick<InstanceWork, 'network'>) => (x?.network?.ports.length ?? 0) > 0;
  if (w.action.startsWith('migrate') || w.migration !== undefined || ports(w)) return true;
  if (w.action === 'delete' || w.action === 'cleanup') return !before || before.migration !== undefined || ports(before);
  return false;
};
