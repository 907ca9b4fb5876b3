import { STORAGE_TYPE_LABEL, type VolumeType } from '../commands/volume/spec';
import type { Resources } from '../domain/resources';

/** A node's free storage: the disk_bytes it offers less what its instances' disks, volumes and snapshots hold. */
export const freeStorage = (capacity: Resources, allocated: Resources): number => capacity.diskBytes - allocated.diskBytes;

/**
 * Why a storage pool with freeBytes free cannot take `bytes` more (both figures, in bytes),
 * or undefined when it can. The one test of room: volume placement's, and the scheduler's
 * for an instance's disks and the volumes a move takes along.
 */
export const storageShort = (freeBytes: number, bytes: number): string | undefined =>
  bytes > freeBytes ? `needs ${bytes} bytes of storage, ${freeBytes} free` : undefined;

/** A node as volume placement sees it. */
export interface StorageCandidate {
  readonly id: string;
  readonly hostname: string;
  readonly ready: boolean;
  readonly status: string;
  readonly zone: string;
  readonly labels: Record<string, string>;
  /** Free bytes of its storage pool (freeStorage). */
  readonly freeBytes: number;
  /** Ids of the volume keys its agent holds (ids only; the keys stay on the host). */
  readonly keyIds: readonly string[];
}

export interface StorageRequest {
  readonly sizeBytes: number;
  readonly type: VolumeType;
  readonly preferredNodeId: string;
  readonly availabilityZone: string;
  /** The source (snapshot or volume) is on this node: the copy is made there. */
  readonly pinnedNodeId?: string;
  readonly encryptionKeyId?: string;
}

export type StorageDecision = { ok: true; ranked: StorageCandidate[] } | { ok: false; reason: string; exhausted: boolean };

type Filter = (r: StorageRequest, n: StorageCandidate) => string | undefined;

const FILTERS: readonly [string, Filter][] = [
  ['pinned', (r, n) => (r.pinnedNodeId && n.id !== r.pinnedNodeId ? 'not the node of the source' : undefined)],
  ['preferred', (r, n) => (r.preferredNodeId && n.id !== r.preferredNodeId ? 'not the preferred node' : undefined)],
  ['ready', (_r, n) => (n.ready ? undefined : n.status)],
  ['zone', (r, n) => (r.availabilityZone && n.zone !== r.availabilityZone ? `not in zone ${r.availabilityZone}` : undefined)],
  [
    'type',
    (r, n) => {
      const offered = n.labels[STORAGE_TYPE_LABEL]?.toLowerCase();
      // Unlabelled nodes take any type; a labelled one only its own.
      return r.type && offered && offered !== r.type ? `offer ${offered} storage, not ${r.type}` : undefined;
    },
  ],
  ['key', (r, n) => (r.encryptionKeyId && !n.keyIds.includes(r.encryptionKeyId) ? `do not hold key ${r.encryptionKeyId}` : undefined)],
  // Nodes differ in what they have free: the reason counts them together and names the most any has.
  ['room', (r, n) => (storageShort(n.freeBytes, r.sizeBytes) ? 'have not enough storage free' : undefined)],
];

/** Pure: which nodes can hold the volume, the most free space first, or why none can. */
export const placeVolume = (r: StorageRequest, nodes: readonly StorageCandidate[]): StorageDecision => {
  const fit: StorageCandidate[] = [];
  const why = new Map<string, number>();
  let roomOnly = true;
  for (const n of nodes) {
    const hit = FILTERS.map(([name, f]) => [name, f(r, n)] as const).find(([, w]) => w !== undefined);
    if (!hit) {
      fit.push(n);
      continue;
    }
    const [name, w] = hit;
    if (name === 'pinned' || name === 'preferred') continue;
    if (name !== 'room') roomOnly = false;
    why.set(w!, (why.get(w!) ?? 0) + 1);
  }
  if (fit.length > 0) return { ok: true, ranked: fit.sort((a, b) => b.freeBytes - a.freeBytes || a.id.localeCompare(b.id)) };
  const head = `no node can hold a volume of ${r.sizeBytes} bytes${r.type ? ` of type ${r.type}` : ''}`;
  if (why.size === 0) {
    if (r.pinnedNodeId) return { ok: false, reason: `${head}: node ${r.pinnedNodeId}, which holds its source, is not registered`, exhausted: false };
    if (r.preferredNodeId) return { ok: false, reason: `${head}: preferred node ${r.preferredNodeId} is not registered`, exhausted: false };
    return { ok: false, reason: `${head}: no node is registered`, exhausted: false };
  }
  const parts = [...why.entries()].sort((a, b) => b[1] - a[1]).map(([w, c]) => `${c} ${c === 1 ? 'node' : 'nodes'} ${w}`);
  const most = Math.max(0, ...nodes.filter((n) => n.ready).map((n) => n.freeBytes));
  return { ok: false, reason: `${head}: ${parts.join('; ')}${why.has('have not enough storage free') ? ` (the most a ready node has free is ${most} bytes)` : ''}`, exhausted: roomOnly };
};
