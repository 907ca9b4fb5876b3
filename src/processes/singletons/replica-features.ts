import type { Logger } from 'pino';
import type { ReplicaEntry } from './singleton-leases';

/**
 * What this build reads in the log that an older one misreads, as named in its replica entry.
 * `per-event-command-ids`: a commit of several commands, each event naming its own (group
 * commit); an older build gives every event of it the first command's id, so its request index
 * and its command handler would take the others' retries for new requests.
 */
export const PER_EVENT_COMMAND_IDS = 'per-event-command-ids';
export const BUILD_FEATURES: readonly string[] = [PER_EVENT_COMMAND_IDS];

/**
 * Whether every live replica reads a format before any is written, as Kubernetes turns a new
 * storage version on only once every API server is upgraded: during a rolling upgrade the
 * replicas of the older build (whose entries name no features) hold the new format back.
 * Answers from what it last saw, at most `maxAgeMs` old, and looks again in the background
 * after that; until it has looked once, and after a look that failed, the answer is no.
 */
export class ReplicaFeatures {
  private common = new Set<string>();
  private seenAt = Number.NEGATIVE_INFINITY;
  private looking?: Promise<void>;

  constructor(
    private readonly replicas: () => Promise<readonly ReplicaEntry[]>,
    private readonly maxAgeMs: number,
    private readonly log: Logger,
  ) {}

  everyReplicaHas(feature: string): boolean {
    if (Date.now() - this.seenAt > this.maxAgeMs) void this.look();
    return this.common.has(feature);
  }

  /** Reads the replicas' entries now, or joins the look already under way. */
  look(): Promise<void> {
    this.looking ??= this.replicas()
      .then((entries) => {
        const had = this.common;
        this.common = new Set(entries.length === 0 ? [] : entries.map((e) => e.features ?? []).reduce((a, b) => a.filter((f) => b.includes(f))));
        this.seenAt = Date.now();
        for (const f of BUILD_FEATURES)
          if (had.has(f) !== this.common.has(f)) this.log.info({ feature: f, replicas: entries.map((e) => e.holder) }, this.common.has(f) ? 'every replica reads it: written from now on' : 'a replica of an older build does not read it: not written');
      })
      .catch((err: unknown) => {
        // Not known: not written, until the next look (one per maxAgeMs, not one per command).
        this.common = new Set();
        this.seenAt = Date.now();
        this.log.debug({ err }, 'replica entries not read');
      })
      .finally(() => (this.looking = undefined));
    return this.looking;
  }
}
