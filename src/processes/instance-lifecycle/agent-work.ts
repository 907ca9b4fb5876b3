import type { JetStreamClient, NatsConnection } from 'nats';
import type { InstanceState } from '../../commands/instance';
import { type InstanceWork, msgId, type WorkAction, workSubject } from '../../agent/protocol';
import { ensureWorkStream } from '../../agent/work-stream';
import { encode } from '../../bus/wire';
import type { HostPlan } from '../../domain/host-plan';
import { Unavailable } from '../../errors';

/** Publishes work for agents; a repeat of the same generation's work is dropped by JetStream (Nats-Msg-Id). */
export class AgentWorkQueue {
  private constructor(private readonly js: JetStreamClient) {}

  static async open(nc: NatsConnection, replicas = 1): Promise<AgentWorkQueue> {
    await ensureWorkStream(await nc.jetstreamManager(), replicas);
    return new AgentWorkQueue(nc.jetstream());
  }

  async send(w: InstanceWork): Promise<void> {
    try {
      await this.js.publish(workSubject(w.nodeId, w.instanceId), encode(w), { msgID: msgId(w) });
    } catch (e) {
      throw new Unavailable(`cannot queue ${w.action} work for node ${w.nodeId}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The work an instance's state asks of a node (everything the agent needs is in it). */
export const workFor = (
  s: InstanceState,
  action: WorkAction,
  nodeId: string,
  generation: number,
  position: number,
  correlationId: string,
  networkPlan?: NetworkPlanSource,
): InstanceWork => {
  const p = s.pending;
  const network = action === 'delete' || action === 'cleanup' ? undefined : networkPlan?.(s, nodeId);
  return {
    instanceId: s.id,
    nodeId,
    generation,
    action,
    position,
    ...(p && (p.kind === 'stop' || p.kind === 'restart' || p.kind === 'delete') ? { force: p.force } : {}),
    ...(p?.kind === 'stop' ? { timeoutSeconds: p.timeoutSeconds } : {}),
    name: s.name!,
    kind: s.kind!,
    spec: s.spec!,
    images: s.images ?? {},
    labels: s.labels ?? {},
    annotations: s.annotations ?? {},
    resources: s.resources!,
    correlationId,
    ...(network ? { network } : {}),
  };
};

/** The part of a node's network plan an instance needs (its port, network and groups); undefined = it has no network. */
export type NetworkPlanSource = (s: InstanceState, nodeId: string) => HostPlan | undefined;
