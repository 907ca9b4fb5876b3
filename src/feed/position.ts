import type { JetStreamManager, KV } from 'nats';
import type { LogCursor } from '../audit/cursor';
import { INDEX_HEADER, REVISION_HEADER } from './subjects';

/** The last event the feed holds: where it sits in the log, and its stream (to finish its commit after a crash). */
export interface Published extends LogCursor {
  readonly aggregateType?: string;
  readonly aggregateId?: string;
}

/** A cursor index meaning "after every event of that commit". */
export const WHOLE_COMMIT = Number.MAX_SAFE_INTEGER;
/** The log position to read after, for a cursor. */
export const afterOf = (c: LogCursor) => (c.revision === 0 ? 0 : c.index === WHOLE_COMMIT ? c.revision : c.revision - 1);

export interface FeedStanding {
  /** Last event in the feed, if any (else the checkpoint's). */
  readonly published?: Published;
  readonly cursor: LogCursor;
  /** The feed stream's last sequence: the next publish expects it. */
  readonly seq: number;
}

/**
 * How far the feed got. The feed is its own checkpoint: each message carries
 * its log position (Hv-Revision, Hv-Index headers); the KV checkpoint
 * (HV_EVENTS_RELAY) only answers for a feed whose messages all aged out.
 */
export class FeedPosition {
  private saved = '';

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly checkpoints: KV,
  ) {}

  async read(): Promise<FeedStanding> {
    const seq = (await this.jsm.streams.info(this.stream)).state.last_seq;
    if (seq > 0) {
      const last = await this.jsm.streams.getMessage(this.stream, { seq }).catch(() => undefined);
      const revision = Number(last?.header.get(REVISION_HEADER));
      const index = Number(last?.header.get(INDEX_HEADER));
      if (last && Number.isFinite(revision) && revision > 0) {
        const body = (() => {
          try {
            return last.json<{ aggregateType?: string; aggregateId?: string }>();
          } catch {
            return {};
          }
        })();
        return { published: { revision, index, aggregateType: body.aggregateType, aggregateId: body.aggregateId }, cursor: { revision, index }, seq };
      }
    }
    // The feed is empty, or its messages aged out: the checkpoint says how far it got.
    const cp = await this.checkpoints.get('checkpoint').catch(() => null);
    if (cp && cp.length > 0) {
      const published = cp.json<Published>();
      return { published, cursor: { revision: published.revision, index: published.index }, seq };
    }
    return { cursor: { revision: 0, index: WHOLE_COMMIT }, seq };
  }

  /** Records how far the feed got, if that moved. */
  async save(published: Published): Promise<void> {
    const value = JSON.stringify(published);
    if (value === this.saved || published.revision === 0) return;
    await this.checkpoints.put('checkpoint', value);
    this.saved = value;
  }
}
