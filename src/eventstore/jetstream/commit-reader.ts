import type { JetStreamManager, NatsConnection } from 'nats';
import type { RecordedEvent } from '../event';
import { decodeCommit } from './commit';
import { unavailable } from './errors';

/** Reads commits of the JetStream log by position: one direct message get each, no consumer, no scan. */
export class JetStreamCommitReader {
  private constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  static async open(nc: NatsConnection, stream = 'HV_LOG'): Promise<JetStreamCommitReader> {
    return new JetStreamCommitReader(await nc.jetstreamManager(), stream);
  }

  /** The commits at these positions, in the order given (a few dozen requests in flight at a time). */
  async read(positions: readonly number[]): Promise<RecordedEvent[][]> {
    const out: RecordedEvent[][] = new Array(positions.length);
    let next = 0;
    const worker = async () => {
      while (next < positions.length) {
        const i = next++;
        try {
          const m = await this.jsm.streams.getMessage(this.stream, { seq: positions[i] });
          out[i] = decodeCommit(m.seq, m.data);
        } catch (e) {
          throw unavailable('read commit', e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, positions.length) }, worker));
    return out;
  }
}
