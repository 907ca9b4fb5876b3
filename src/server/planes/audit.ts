import os from 'node:os';
import type { GuardedServer } from '../../grpc/guarded-server';
import { AggregateIndex } from '../../audit/aggregate-index';
import { AUDITED } from '../../audit/aggregates';
import { AuditLog } from '../../audit/audit-log';
import { CursorTokens } from '../../audit/cursor';
import { IndexedStreams } from '../../audit/indexed-streams';
import { TimeIndex } from '../../audit/time-index';
import type { JetStreamCommitReader } from '../../eventstore/jetstream/commit-reader';
import type { EventStore } from '../../eventstore/port';
import { UPCASTERS } from '../../eventstore/upcasting/registry';
import { FeedRelay } from '../../feed/relay';
import { AuditServiceService } from '../../gen/hypervisor/audit/v1/audit';
import { auditService } from '../../grpc/audit-service';
import { AppliedTail } from '../../projections/applied-tail';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { Plane, PlaneContext } from './plane';

/**
 * The log as history: the time and aggregate indexes, one aggregate's stream
 * read by position (IndexedStreams, also what the command handler reads),
 * AuditService, and the integration feed relay (HV_EVENTS).
 */
export class AuditPlane implements Plane {
  readonly timeIndex = new TimeIndex();
  readonly aggregateIndex = new AggregateIndex();
  feed?: FeedRelay;

  get readModels() {
    return [this.timeIndex, this.aggregateIndex];
  }

  /**
   * One aggregate's stream through the aggregate index (commits by position)
   * once the read models are up: the cost of a stream, not of the log. Until
   * then, and without a commit reader (EventStoreDB), the store reads it.
   */
  streams(store: EventStore, runtime: ProjectionRuntime, commits: JetStreamCommitReader | undefined): IndexedStreams {
    return new IndexedStreams({
      store,
      index: this.aggregateIndex,
      readCommits: commits && ((p) => commits.read(p)),
      following: () => runtime.caughtUp && runtime.healthy,
      caughtUp: async () => {
        if (!runtime.caughtUp || !runtime.healthy) return false;
        return runtime.waitFor(await store.head(), 2_000).then(
          () => true,
          () => false,
        );
      },
    });
  }

  async start({ cfg, nc, store, projections, log }: PlaneContext): Promise<void> {
    if (!cfg.feed) return;
    // The relay follows the log through the commits the read models apply: no consumer of its own.
    this.feed = await FeedRelay.open(nc, new AppliedTail(store, projections), {
      upcast: UPCASTERS.upcast,
      leaseTtlMs: cfg.feedLeaseTtlSeconds * 1000,
      maxAgeMs: cfg.feedMaxAgeSeconds * 1000,
      replicas: cfg.logReplicas,
      // A process restarted on the same host and port takes its lease back at once.
      holder: cfg.grpcPort ? `${os.hostname()}:${cfg.grpcPort}` : undefined,
      log,
    });
    this.feed.start();
  }

  addServices(grpc: GuardedServer, { cfg, store, streams, log }: PlaneContext): string[] {
    const audit = new AuditLog({
      store,
      aggregates: AUDITED,
      upcast: UPCASTERS.upcast,
      tokens: new CursorTokens(cfg.pageTokenSecret!), // resolved by the composition root (page-token-secret.ts)
      timeIndex: this.timeIndex,
      streams,
    });
    grpc.addService(AuditServiceService, auditService({ audit, log }));
    return ['hypervisor.audit.v1.AuditService'];
  }

  async stop(): Promise<void> {
    await this.feed?.stop();
  }
}
