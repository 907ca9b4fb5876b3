import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import { ApiClient } from '../client/api-client';
import type { ReadModel } from '../projections/read-model';
import { CHECKED_MODELS, type CheckedModel } from './checked-models';

export { CHECKED_MODELS, type CheckedModel } from './checked-models';

export interface ReplayCheckResult {
  readonly ok: boolean;
  /** Log position the models were rebuilt to. */
  readonly position: number;
  readonly compared: Record<string, number>;
  /** Every difference found, the first one first. */
  readonly differences: string[];
}

export interface ReplayCheckOptions {
  readonly store: EventStore;
  readonly address: string;
  readonly models?: readonly CheckedModel[];
  /** The log may move while we compare: try again this many times before reporting. */
  readonly attempts?: number;
}

/** Rebuilds every read model from position zero and compares it with what the server serves. */
export const replayCheck = async (o: ReplayCheckOptions): Promise<ReplayCheckResult> => {
  const specs = o.models ?? CHECKED_MODELS;
  const models = specs.map((s) => s.build());
  const api = new ApiClient(o.address);
  let position = 0;
  let result: ReplayCheckResult | undefined;
  try {
    for (let attempt = 0; attempt < (o.attempts ?? 5); attempt++) {
      position = await feed(o.store, models, position);
      const differences: string[] = [];
      const compared: Record<string, number> = {};
      for (const [i, s] of specs.entries()) {
        const rebuilt = s.rebuilt(models[i]);
        const served = await s.served(api, rebuilt);
        compared[s.name] = rebuilt.size;
        differences.push(...compare(s.name, rebuilt, served));
      }
      result = { ok: differences.length === 0, position, compared, differences };
      if (result.ok) return result;
      // A difference stands once the log stood still and the server had time to apply it.
      if (attempt >= 1 && (await o.store.head()) === position) return result;
      // The server may still be applying the newest commits: look again shortly.
      await new Promise((r) => setTimeout(r, 300));
    }
    return result!;
  } finally {
    api.close();
  }
};

/** Feeds the log after `after` to the models, a commit at a time. */
const feed = async (store: EventStore, models: ReadModel[], after: number): Promise<number> => {
  let commit: RecordedEvent[] = [];
  let position = after;
  const flush = () => {
    if (commit.length) for (const m of models) m.applyCommit(commit);
    commit = [];
  };
  for await (const e of store.readAll(after)) {
    if (commit.length && commit[0].revision !== e.revision) flush();
    commit.push(e);
    position = e.revision;
  }
  flush();
  return position;
};

const compare = (name: string, rebuilt: Map<string, unknown>, served: Map<string, unknown>): string[] => {
  const out: string[] = [];
  const ids = [...new Set([...rebuilt.keys(), ...served.keys()])].sort();
  for (const id of ids) {
    if (!served.has(id)) out.push(`${name}/${id}: in the log, not served by the server`);
    else if (!rebuilt.has(id)) out.push(`${name}/${id}: served by the server, not in the log`);
    else {
      const d = firstDifference(rebuilt.get(id), served.get(id), '');
      if (d) out.push(`${name}/${id}: ${d}`);
    }
  }
  return out;
};

const firstDifference = (log: unknown, server: unknown, path: string): string | undefined => {
  if (typeof log === 'object' && log !== null && typeof server === 'object' && server !== null) {
    const keys = [...new Set([...Object.keys(log), ...Object.keys(server)])].sort();
    for (const k of keys) {
      const d = firstDifference((log as Record<string, unknown>)[k], (server as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return JSON.stringify(log) === JSON.stringify(server)
    ? undefined
    : `${path || 'value'}: server has ${JSON.stringify(server) ?? 'nothing'}, the log gives ${JSON.stringify(log) ?? 'nothing'}`;
};
