import { parentPort } from 'node:worker_threads';
import { connect } from 'nats';
import pino from 'pino';
import { decodeCommit } from '../../src/eventstore/jetstream/commit';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { Snapshotter } from '../../src/projections/snapshotter';
import { makePlanes } from '../../src/server/planes/make-planes';
import type { Security } from '../../src/server/security/setup';
import { ObjectStoreSnapshots } from '../../src/snapshots/object-store';

/**
 * A worker thread of bench/restart.ts: the server's own read models (the
 * planes' and the request index, as the composition root makes them), fed
 * every commit of the log as it is written, decoded as the server decodes
 * it; then snapshotted with the server's Snapshotter into its object store.
 * A thread of its own so that building the models runs beside writing the log.
 */
export type ToModels = { batch: { first: number; bodies: Uint8Array[] } } | { snapshot: { natsUrl: string; position: number } };
export type FromModels = { applied: number } | { snapshotted: { ok: boolean; ms: number; nodes: number; networks: number; ports: number; instances: number } };

// Security is only used by the planes' services, which are not made here.
const made = makePlanes({} as Security, { consoleLogin: async () => ({ url: '' }) }, pino({ level: 'silent' }));
const models = made.readModels;
const port = parentPort!;

port.on('message', (m: ToModels) => {
  if ('batch' in m) {
    const { first, bodies } = m.batch;
    bodies.forEach((body, i) => {
      const commit = decodeCommit(first + i, body);
      for (const model of models) model.applyCommit(commit);
    });
    port.postMessage({ applied: bodies.length } satisfies FromModels);
    return;
  }
  void (async () => {
    const nc = await connect({ servers: m.snapshot.natsUrl });
    const t0 = performance.now();
    const snapshots = new Snapshotter(await ObjectStoreSnapshots.open(nc), models, { upcasters: UPCASTERS.fingerprint });
    const ok = await snapshots.take(m.snapshot.position);
    await nc.close();
    port.postMessage({
      snapshotted: {
        ok,
        ms: performance.now() - t0,
        nodes: made.cluster.nodes.size,
        networks: made.network.models.networks.size,
        ports: made.network.models.ports.size,
        instances: made.compute.instances.size,
      },
    } satisfies FromModels);
  })();
});
