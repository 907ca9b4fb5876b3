import path from 'node:path';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config';
import type { InstanceDriver } from '../drivers/driver';
import { OciDriver } from '../drivers/oci/oci-driver';
import { QemuDriver } from '../drivers/qemu/qemu-driver';
import type { Reporter } from '../reporter';
import { VOLUME_KEYS_ANNOTATION } from '../storage-protocol';
import { ColdMoveVolumes } from './cold-move-volumes';
import { ContainerVolumes } from './container-volumes';
import { IncomingVolumeError } from './moving-copies';
import { StoragePool } from './pool';
import { StorageAgent } from './storage-agent';
import { DiskServer, serveSettings } from './disk-copy';
import { SnapshotMoves } from './snapshot-moves';

/** The node's storage pool: --storage-dir, else <state-dir>/volumes. */
export const storageDirOf = (cfg: Pick<AgentConfig, 'storageDir' | 'stateDir'>): string => cfg.storageDir || path.join(cfg.stateDir, 'volumes');

/**
 * This host's storage: its pool, and (where a driver can use volumes) the
 * storage agent, wired into the QEMU and OCI drivers so a start gets the
 * volumes attached while it was stopped. Returns the annotations the node
 * registers with (the ids of the volume keys it holds, never a key).
 */
export const hostStorage = (
  cfg: AgentConfig,
  drivers: readonly InstanceDriver[],
  nc: NatsConnection,
  nodeId: () => string,
  reporter: Reporter,
  log: Logger,
  /** On a confined NATS (network mode): the storage plan on the node's own subject. */
  confined = false,
): { storage?: StorageAgent; coldVolumes?: ColdMoveVolumes; annotations: Record<string, string> } => {
  const pool = new StoragePool(storageDirOf(cfg), cfg.volumeKeys);
  const annotations: Record<string, string> = pool.keyIds().length ? { [VOLUME_KEYS_ANNOTATION]: pool.keyIds().join(',') } : {};
  const qemu = drivers.find((d): d is QemuDriver => d instanceof QemuDriver);
  const oci = drivers.find((d): d is OciDriver => d instanceof OciDriver);
  if (!qemu && !oci) return { annotations };
  const host = {
    running: async () => (await Promise.all(drivers.map((d) => d.list()))).flat().filter((o) => o.state === 'running' || o.state === 'paused').map((o) => o.instanceId),
    monitorOf: (id: string) => (qemu ? qemu.monitorOf(id) : Promise.resolve(undefined)),
  };
  const containers = oci ? new ContainerVolumes(path.join(pool.dir, 'exports')) : undefined;
  // Snapshots follow their volume with the cold moves' copy: served from the migration port range at the advertise address.
  const snapshots = new SnapshotMoves(pool, new DiskServer(path.join(cfg.stateDir, 'snapshot-moves')), serveSettings(cfg), log.child({ component: 'storage' }));
  const storage = new StorageAgent(nc, nodeId, pool, host, reporter, log.child({ component: 'storage' }), { detachTimeoutMs: 10_000, perNode: confined }, containers, snapshots);
  // A start that cannot ask for its volumes still starts: a q35 gets them hot-plugged by the next storage round.
  // A move's destination that cannot make a volume coming with it fails instead (the move fails, the guest stays).
  qemu?.useVolumes((id) =>
    storage.launchVolumes(id).catch((err) => {
      if (err instanceof IncomingVolumeError) throw err;
      log.warn({ err, instanceId: id }, 'cannot learn the volumes of a start');
      return [];
    }),
  );
  if (oci) oci.volumesAtStart = (id) => storage.containerMounts(id);
  return { storage, coldVolumes: new ColdMoveVolumes(pool, () => storage.desired(), containers), annotations };
};
