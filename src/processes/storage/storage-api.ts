import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { Subscription as RxSubscription } from 'rxjs';
import { CTL_QUEUE, requestedNode } from '../../agent/protocol';
import { STORAGE_CHANGED_SUBJECT, STORAGE_PLAN_SUBJECT } from '../../agent/storage-protocol';
import { decode, encode } from '../../bus/wire';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import { type StorageModels, storageFor } from './storage-plan';

/** Aggregates whose changes may change what some host should hold (an instance's start or stop changes where its disks go). */
const STORAGE_AGGREGATES = new Set(['volume', 'snapshot', 'instance']);

/**
 * The storage side of the agents' API: answers a node's volumes and
 * snapshots, and tells agents (one core message, no body) after each commit
 * that may change them, so an attach or a resize reaches the host at once.
 */
export class StorageApi {
  private subs: Subscription[] = [];
  private commits?: RxSubscription;
  private kick?: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly models: StorageModels,
    private readonly runtime: ProjectionRuntime,
    private readonly log: Logger,
  ) {}

  start(): void {
    // The shared subject (development mode) and each node's own (a confined NATS lets a node publish only its own):
    // on the latter the answer is for the node the subject names, whatever the body says.
    const answer = (subject: string) => this.nc.subscribe(subject, {
      queue: CTL_QUEUE,
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        try {
          const nodeId = requestedNode(STORAGE_PLAN_SUBJECT, msg.subject, decode<{ nodeId: string }>(msg.data).nodeId);
          msg.respond(encode(storageFor(this.models, nodeId, this.runtime.position)));
        } catch (e) {
          this.log.error({ err: e }, 'cannot answer a storage request');
        }
      },
    });
    this.subs = [answer(STORAGE_PLAN_SUBJECT), answer(`${STORAGE_PLAN_SUBJECT}.*`)];
    this.commits = this.runtime.commits$.subscribe((commit) => {
      if (!commit.some((e) => STORAGE_AGGREGATES.has(e.aggregateType))) return;
      this.kick ??= setTimeout(() => {
        this.kick = undefined;
        this.nc.publish(STORAGE_CHANGED_SUBJECT);
      }, 10);
    });
  }

  stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.commits?.unsubscribe();
    if (this.kick) clearTimeout(this.kick);
  }
}
