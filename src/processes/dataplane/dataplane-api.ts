import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { Subscription as RxSubscription } from 'rxjs';
import { CTL_QUEUE, NETWORK_CHANGED_SUBJECT, NETWORK_PLAN_SUBJECT, type NetworkPlanReply, requestedNode } from '../../agent/protocol';
import { decode, encode } from '../../bus/wire';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { HostPlans } from './host-plan';

/** Aggregates whose changes may change some host's plan. */
const NETWORK_AGGREGATES = new Set(['port', 'network', 'subnet', 'security_group', 'node', 'router', 'floating_ip']);
/** An instance's move changes where its ports are realised (port-hosts.ts). */
const MOVES = new Set(['InstanceMigrationRequested', 'InstanceMigrated', 'InstanceMigrationFailed']);
const touchesPlans = (e: { aggregateType: string; type: string }) => NETWORK_AGGREGATES.has(e.aggregateType) || (e.aggregateType === 'instance' && MOVES.has(e.type));

/**
 * The data plane's side of the agents' API: answers a node's network plan,
 * and tells agents (one core message, no body) after each commit that may
 * change a plan, so a new rule or member reaches the hosts at once.
 */
export class DataplaneApi {
  private subs: Subscription[] = [];
  private commits?: RxSubscription;
  private kick?: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly plans: Pick<HostPlans, 'forNode'>,
    private readonly runtime: ProjectionRuntime,
    private readonly log: Logger,
  ) {}

  start(): void {
    const plans = (subject: string) =>
      this.nc.subscribe(subject, {
      queue: CTL_QUEUE,
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        try {
          const nodeId = requestedNode(NETWORK_PLAN_SUBJECT, msg.subject, decode<{ nodeId: string }>(msg.data).nodeId);
          const reply: NetworkPlanReply = { nodeId, position: this.runtime.position, plan: this.plans.forNode(nodeId) };
          msg.respond(encode(reply));
        } catch (e) {
          this.log.error({ err: e }, 'cannot answer a network plan request');
        }
      },
    });
    // The shared subject (an open NATS) and each node's own (a confined one: the subject names the node).
    this.subs = [plans(NETWORK_PLAN_SUBJECT), plans(`${NETWORK_PLAN_SUBJECT}.*`)];
    this.commits = this.runtime.commits$.subscribe((commit) => {
      if (!commit.some(touchesPlans)) return;
      // One message for a burst of commits.
      this.kick ??= setTimeout(() => {
        this.kick = undefined;
        this.nc.publish(NETWORK_CHANGED_SUBJECT);
      }, 10);
    });
  }

  stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.commits?.unsubscribe();
    if (this.kick) clearTimeout(this.kick);
  }
}
