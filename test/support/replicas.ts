import { ServerProcess } from './server-process';

/** Every singleton a server replica may hold (src/processes/singletons; the feed relay has its own lease). */
export const SINGLETONS = ['command-handler', 'scheduler', 'lifecycle', 'drain', 'liveness', 'network-reconciler', 'router-placement', 'snapshotter', 'feed-relay'] as const;

/** Which singletons a replica holds now, from its /metrics (hv_singleton_held). */
export const heldBy = async (s: ServerProcess): Promise<Set<string>> => {
  const text = await fetch(`http://127.0.0.1:${s.httpPort}/metrics`).then((r) => r.text());
  const held = new Set<string>();
  for (const m of text.matchAll(/^hv_singleton_held\{singleton="([^"]+)"\} 1$/gm)) held.add(m[1]);
  return held;
};

/** singleton → the replicas holding it, when every singleton is held by exactly one of `replicas`; undefined otherwise. */
export const singletonsOnce = async (replicas: readonly ServerProcess[]): Promise<Map<string, ServerProcess> | undefined> => {
  const held = await Promise.all(replicas.map((r) => heldBy(r).catch(() => new Set<string>())));
  const owner = new Map<string, ServerProcess>();
  for (const s of SINGLETONS) {
    const holders = replicas.filter((_, i) => held[i].has(s));
    if (holders.length !== 1) return undefined;
    owner.set(s, holders[0]);
  }
  return owner;
};
