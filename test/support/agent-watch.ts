import type { NatsConnection } from 'nats';
import { decode } from '../../src/bus/wire';
import { consumerName, DESIRED_SUBJECT, perNodeSubject, WORK_STREAM } from '../../src/agent/protocol';

/**
 * An agent seen from NATS, for tests that must know it has looked: each
 * reconcile pass starts by asking the control plane for the desired state,
 * and its work consumer shows what it has not finished.
 */
export class AgentWatch {
  private passes = 0;

  private constructor(
    private readonly nc: NatsConnection,
    readonly nodeId: string,
  ) {}

  static async start(nc: NatsConnection, nodeId: string): Promise<AgentWatch> {
    const w = new AgentWatch(nc, nodeId);
    // Not in the control plane's queue group: a copy of every request, the answer left to the server. A joined
    // agent (confined NATS) asks on its own subject, one in development mode on the shared one.
    for (const subject of [DESIRED_SUBJECT, perNodeSubject(DESIRED_SUBJECT, nodeId)])
      nc.subscribe(subject, {
        callback: (err, m) => {
          if (!err && decode<{ nodeId: string }>(m.data).nodeId === nodeId) w.passes++;
        },
      });
    await nc.flush();
    return w;
  }

  /** Reconcile passes begun since start (one begins only once the one before has finished). */
  get passesBegun(): number {
    return this.passes;
  }

  /** Whether the agent's work consumer holds nothing undelivered or unacknowledged: every piece of work is done. */
  async workDone(): Promise<boolean> {
    const ci = await (await this.nc.jetstreamManager()).consumers.info(WORK_STREAM, consumerName(this.nodeId));
    return ci.num_pending === 0 && ci.num_ack_pending === 0;
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}
