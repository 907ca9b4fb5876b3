import { credentials } from '@grpc/grpc-js';
import { nodeDecider } from '../commands/node';
import { toNode } from '../wire/views/node';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import { ClusterServiceClient, type ListNodesRequest, type ListNodesResponse, Node } from '../gen/hypervisor/v1/cluster';
import { EntityReadModel } from '../projections/entity-read-model';
import type { ReadModel } from '../projections/read-model';

/**
 * One read model the check rebuilds from position zero and compares with
 * what the running server serves. Objects are compared as JSON, keyed by id.
 */
export interface CheckedModel {
  readonly name: string;
  /** A fresh model, fed the whole log. */
  build(): ReadModel;
  /** The rebuilt model's objects. */
  rebuilt(model: ReadModel): Map<string, unknown>;
  /** What the server serves, read through its public API. */
  served(address: string): Promise<Map<string, unknown>>;
}

/** Fields that are not a function of the log (liveness leases), left out of the comparison. */
const withoutLastSeen = (n: Node) => Node.toJSON({ ...n, lastSeen: undefined }) as Record<string, unknown>;

const unary = <Req, Res>(client: object, method: (req: Req, cb: (e: Error | null, r: Res) => void) => unknown, req: Req) =>
  new Promise<Res>((resolve, reject) => method.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

const nodesModel: CheckedModel = {
  name: 'nodes',
  build: () => new EntityReadModel({ decider: nodeDecider, view: toNode }),
  rebuilt: (m) => {
    const model = m as EntityReadModel<unknown, Node>;
    return new Map(model.list().map((n) => [n.id, withoutLastSeen(n)]));
  },
  served: async (address) => {
    const c = new ClusterServiceClient(address, credentials.createInsecure());
    try {
      const out = new Map<string, unknown>();
      let pageToken = '';
      do {
        const r = await unary<ListNodesRequest, ListNodesResponse>(c, c.listNodes as never, { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken });
        for (const n of r.nodes) out.set(n.id, withoutLastSeen(n));
        pageToken = r.nextPageToken;
      } while (pageToken);
      return out;
    } finally {
      c.close();
    }
  },
};

/**
 * Every read model the check covers. A service that serves a read model adds
 * its entry here (rebuild it, list it through the API).
 */
export const CHECKED_MODELS: readonly CheckedModel[] = [nodesModel];

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
  let position = 0;
  let result: ReplayCheckResult | undefined;
  for (let attempt = 0; attempt < (o.attempts ?? 5); attempt++) {
    position = await feed(o.store, models, position);
    const differences: string[] = [];
    const compared: Record<string, number> = {};
    for (const [i, s] of specs.entries()) {
      const rebuilt = s.rebuilt(models[i]);
      const served = await s.served(o.address);
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
