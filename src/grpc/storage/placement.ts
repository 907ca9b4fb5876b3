import type { Origin } from '../../bus/dispatcher';
import { step } from '../../bus/dispatcher';
import { allocated } from '../../commands/node/decide';
import { VOLUME_KEYS_ANNOTATION } from '../../domain/annotations';
import { Code, DomainError, FailedPrecondition, NotFound, ResourceExhausted } from '../../errors';
import { freeStorage, placeVolume, type StorageCandidate, type StorageRequest } from '../../scheduler/storage';
import type { StorageServiceDeps } from './context';

/** Every registered node as volume placement sees it. */
export const storageCandidates = (d: Pick<StorageServiceDeps, 'nodes'>): StorageCandidate[] =>
  d.nodes.ids().flatMap((id) => {
    const n = d.nodes.state(id);
    if (!n?.registered) return [];
    // READY already means a live lease: liveness marks a node NOT_READY when its heartbeats stop.
    return [
      {
        id,
        hostname: n.hostname,
        ready: n.status === 'READY',
        status: `are ${n.status}`,
        zone: n.zone,
        labels: n.labels,
        freeBytes: freeStorage(n.capacity, allocated(n)),
        keyIds: (n.annotations[VOLUME_KEYS_ANNOTATION] ?? '').split(',').filter(Boolean),
      },
    ];
  });

/**
 * Chooses a node and holds `bytes` of its storage pool for `key` (a volume or
 * snapshot id), trying the next best node when one fills up meanwhile. Exact
 * under concurrency: the hold is a command on the node's own stream.
 */
export const reserveStorage = async (d: StorageServiceDeps, o: Origin, key: string, r: StorageRequest): Promise<string> => {
  if (r.preferredNodeId && !d.nodes.get(r.preferredNodeId)) throw new NotFound(`preferred_node_id: node ${r.preferredNodeId} not found`);
  if (r.encryptionKeyId && !storageCandidates(d).some((n) => n.keyIds.includes(r.encryptionKeyId!)))
    throw new FailedPrecondition(`encryption_key_id: no node holds key ${r.encryptionKeyId} (agents load keys with --volume-key <id>=<file>)`);
  const decision = placeVolume(r, storageCandidates(d));
  if (!decision.ok) throw decision.exhausted ? new ResourceExhausted(decision.reason) : new FailedPrecondition(decision.reason);
  const refused: string[] = [];
  for (const n of decision.ranked) {
    try {
      await d.dispatcher.execute(step(o, `reserve-storage:${n.id}`), 'node', n.id, { type: 'ReserveStorage', data: { key, bytes: r.sizeBytes } });
      return n.id;
    } catch (e) {
      // The node filled up, left READY or went away since the read model said otherwise: the next one may do.
      if (!(e instanceof DomainError) || ![Code.RESOURCE_EXHAUSTED, Code.FAILED_PRECONDITION, Code.NOT_FOUND].includes(e.code as never)) throw e;
      refused.push(`${n.hostname}: ${e.message}`);
    }
  }
  throw new ResourceExhausted(`no node can hold ${r.sizeBytes} bytes now: ${refused.join('; ')}`);
};

const releaseStorage = (d: StorageServiceDeps, o: Origin, nodeId: string, key: string) =>
  d.dispatcher.execute(step(o, `release-storage:${nodeId}`), 'node', nodeId, { type: 'ReleaseStorage', data: { key } });

/** Runs the create the hold on `nodeId` was taken for; a refused create gives the hold back (nothing half-written) and is answered as refused. */
export const createUnderHold = async (d: StorageServiceDeps, o: Origin, nodeId: string, key: string, create: () => Promise<unknown>): Promise<void> => {
  try {
    await create();
  } catch (e) {
    await releaseStorage(d, o, nodeId, key).catch((err) => d.log.warn({ err, key, nodeId }, 'cannot give back storage held for a refused create'));
    throw e;
  }
};
