/**
 * A usage meter built on the integration feed: how many seconds instances
 * ran, per label (`team=web`, `tier=gold`, …). Pure: feed events in, totals
 * out; main.ts wires it to NATS.
 */

/** The fields of a feed message body (AuditEvent, proto3 JSON) the meter reads. */
export interface FeedEvent {
  /** uint64: proto3 JSON writes it as a decimal string (parsers also accept a number). */
  readonly revision: string | number;
  readonly id: string;
  readonly type: string;
  readonly aggregateId: string;
  readonly time: string;
  readonly data?: Record<string, unknown>;
}

export interface MeterState {
  /** Position of the last event applied, to skip a redelivered one. */
  revision: number;
  idsAtRevision: string[];
  /** Per instance: its labels, and since when it runs (ms), if it does. */
  instances: Record<string, { labels: Record<string, string>; runningSince?: number }>;
  /** Seconds of finished runs, per "key=value" label. */
  seconds: Record<string, number>;
}

export const emptyMeter = (): MeterState => ({ revision: 0, idsAtRevision: [], instances: {}, seconds: {} });

/** Events after which an instance no longer runs. */
const ENDS_A_RUN = new Set(['InstanceStopped', 'InstanceFailed', 'InstanceDeleted']);

/** Applies one event; true if it was new (a redelivery changes nothing). */
export const apply = (m: MeterState, e: FeedEvent): boolean => {
  const revision = Number(e.revision);
  if (revision < m.revision || (revision === m.revision && m.idsAtRevision.includes(e.id))) return false;
  if (revision > m.revision) {
    m.revision = revision;
    m.idsAtRevision = [];
  }
  m.idsAtRevision.push(e.id);
  const at = Date.parse(e.time);
  const inst = (m.instances[e.aggregateId] ??= { labels: {} });
  if (e.type === 'InstanceRequested') {
    inst.labels = { ...((e.data?.labels as Record<string, string>) ?? {}) };
  } else if (e.type === 'InstanceRunning') {
    inst.runningSince ??= at;
  } else if (ENDS_A_RUN.has(e.type)) {
    if (inst.runningSince !== undefined) addRun(m, inst.labels, (at - inst.runningSince) / 1000);
    inst.runningSince = undefined;
    if (e.type === 'InstanceDeleted') delete m.instances[e.aggregateId];
  }
  return true;
};

const addRun = (m: MeterState, labels: Record<string, string>, seconds: number) => {
  for (const [k, v] of Object.entries(labels)) m.seconds[`${k}=${v}`] = (m.seconds[`${k}=${v}`] ?? 0) + seconds;
};

/** Instance-seconds per label up to `now`, counting runs still going. */
export const report = (m: MeterState, now: number): Record<string, number> => {
  const out = { ...m.seconds };
  for (const inst of Object.values(m.instances)) {
    if (inst.runningSince === undefined) continue;
    for (const [k, v] of Object.entries(inst.labels)) out[`${k}=${v}`] = (out[`${k}=${v}`] ?? 0) + (now - inst.runningSince) / 1000;
  }
  return out;
};
