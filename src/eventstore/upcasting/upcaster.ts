import { createHash } from 'node:crypto';
import type { RecordedEvent } from '../event';

/**
 * One step of an event type's schema history: turns the data of version
 * `from` into the data of version `from + 1`. Steps are pure; they run on
 * every read, never on the log, which is never rewritten.
 */
export interface Upcaster {
  readonly aggregateType: string;
  readonly type: string;
  readonly from: number;
  /** What changed, for people reading the chain (and its fingerprint). */
  readonly change: string;
  readonly up: (data: unknown) => unknown;
}

/**
 * Every upcaster of every event type. `currentVersion` is what the command
 * handler writes; `upcast` brings any stored event up to it, step by step,
 * so only the newest shape ever reaches evolve, the audit or the feed.
 */
export class UpcasterChain {
  private readonly steps = new Map<string, Map<number, Upcaster>>();
  private readonly current = new Map<string, number>();
  /** Changes whenever a step is added: snapshots taken under another chain are not used. */
  readonly fingerprint: string;

  constructor(upcasters: readonly Upcaster[]) {
    for (const u of upcasters) {
      const k = key(u.aggregateType, u.type);
      const byVersion = this.steps.get(k) ?? new Map<number, Upcaster>();
      if (byVersion.has(u.from)) throw new Error(`two upcasters for ${k} v${u.from}`);
      byVersion.set(u.from, u);
      this.steps.set(k, byVersion);
    }
    for (const [k, byVersion] of this.steps) {
      const versions = [...byVersion.keys()].sort((a, b) => a - b);
      versions.forEach((v, i) => {
        if (v !== i + 1) throw new Error(`upcasters of ${k} must start at v1 and have no gap (missing v${i + 1})`);
      });
      this.current.set(k, versions.length + 1);
    }
    const described = [...this.steps.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, byVersion]) => `${k}@${byVersion.size + 1}`);
    this.fingerprint = createHash('sha256').update(described.join('\n')).digest('hex').slice(0, 16);
  }

  /** The schema version the handler writes for this event type (1 until its shape first changes). */
  currentVersion(aggregateType: string, type: string): number {
    return this.current.get(key(aggregateType, type)) ?? 1;
  }

  /** The event in its current shape; events already current are returned as they are. */
  readonly upcast = (e: RecordedEvent): RecordedEvent => {
    const byVersion = this.steps.get(key(e.aggregateType, e.type));
    if (!byVersion) return e;
    let data = e.data;
    let v = e.schemaVersion || 1;
    for (let step = byVersion.get(v); step; step = byVersion.get(++v)) data = step.up(data);
    return v === e.schemaVersion ? e : { ...e, data, schemaVersion: v };
  };
}

const key = (aggregateType: string, type: string) => `${aggregateType}/${type}`;
