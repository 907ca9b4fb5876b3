import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { CTL_QUEUE, type DesiredInstance, type DesiredReply, type DesiredRequest, DESIRED_SUBJECT, IMAGE_RESOLVE_SUBJECT, requestedNode, type ResolveReply } from '../../agent/protocol';
import { decode, encode } from '../../bus/wire';
import type { ImageState } from '../../commands/image';
import { awaitsNetwork, type InstanceState } from '../../commands/instance';
import { Code, DomainError } from '../../errors';
import type { Image, Instance } from '../../gen/hypervisor/v1/compute';
import { resolveImage } from '../../projections/resolve-image';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { CausationTracker } from '../causation';
import type { InstancesByNode } from '../indexes';
import { type NetworkPlanSource, workFor } from './agent-work';
import { desiredStatusOf } from './desired-status';

/**
 * What agents ask the control plane over NATS (core request/reply, a queue
 * group shared by every server process): the desired state of their node,
 * and image lookups.
 */
export class AgentApi {
  private subs: Subscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    private readonly images: EntityReadModel<ImageState, Image>,
    private readonly byNode: InstancesByNode,
    private readonly runtime: ProjectionRuntime,
    private readonly causes: CausationTracker,
    private readonly log: Logger,
    private readonly networkPlan?: NetworkPlanSource,
  ) {}

  start(): void {
    const desired = (subject: string) =>
      this.nc.subscribe(subject, {
        queue: CTL_QUEUE,
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          try {
            msg.respond(encode(this.desired(requestedNode(DESIRED_SUBJECT, msg.subject, decode<DesiredRequest>(msg.data).nodeId))));
          } catch (e) {
            this.log.error({ err: e }, 'cannot answer a desired-state request');
          }
        },
      });
    this.subs.push(
      desired(DESIRED_SUBJECT),
      desired(`${DESIRED_SUBJECT}.*`),
      this.nc.subscribe(IMAGE_RESOLVE_SUBJECT, {
        queue: CTL_QUEUE,
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          let reply: ResolveReply;
          try {
            reply = { ok: true, source: resolveImage('image', decode<{ ref: string }>(msg.data).ref, this.images) };
          } catch (e) {
            reply = e instanceof DomainError ? { ok: false, code: e.code, message: e.message } : { ok: false, code: Code.INTERNAL, message: 'internal error' };
          }
          msg.respond(encode(reply));
        },
      }),
    );
  }

  desired(nodeId: string): DesiredReply {
    const position = this.runtime.position;
    const instances: DesiredInstance[] = [];
    for (const id of this.byNode.on(nodeId)) {
      const s = this.instances.state(id);
      if (!s?.exists || s.nodeId !== nodeId) continue;
      // Create work waits for the network step, as in the lifecycle.
      const p = s.pending?.kind === 'create' && awaitsNetwork(s) ? undefined : s.pending;
      instances.push({
        instanceId: id,
        status: desiredStatusOf(s),
        generation: s.generation,
        ...(p ? { work: workFor(s, p.kind, nodeId, p.generation, position, this.causes.of(id).correlationId, this.networkPlan) } : {}),
      });
    }
    return { nodeId, position, instances };
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}
