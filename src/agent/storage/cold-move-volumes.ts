import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StorageReply } from '../storage-protocol';
import type { ContainerVolumes } from './container-volumes';
import type { MovedFile } from './disk-copy';
import { IncomingVolumeError } from './moving-copies';
import type { StoragePool } from './pool';

/** A volume a cold move carries: its file here and the name it is served under (as a live move names its block node). */
export interface MovedVolume extends MovedFile {
  readonly id: string;
}

/**
 * The volumes of an instance moving cold, on one host's pool. The source serves the files
 * of its volumes once nothing holds them (a container's volume stays mounted on the host
 * after the container stopped, so it is unmounted first: its file system flushed). The target
 * copies those coming to it under a marker, as a live move's target makes its copies
 * (moving-copies.ts): a move that fails leaves a marked copy no plan holds, which the storage
 * round removes (and the move's own failure removes at once).
 */
export class ColdMoveVolumes {
  constructor(
    private readonly pool: StoragePool,
    private readonly plan: () => Promise<StorageReply>,
    private readonly containers?: ContainerVolumes,
  ) {}

  /** Source: this node's volumes attached to the instance, closed on the host, as files to serve. */
  async outgoing(instanceId: string): Promise<MovedVolume[]> {
    const r = await this.plan();
    const vols = r.volumes.filter((v) => !v.incoming && v.attachment?.instanceId === instanceId && !v.attachment.detaching);
    for (const v of vols) if (v.attachment?.instanceKind === 'container') await this.containers?.unmount(v.id);
    return vols.map((v) => ({ id: v.id, name: movedName(v.id), path: this.pool.volumePath(v.id) }));
  }

  /**
   * Target: the volumes coming with the instance, each marked as a move's copy before it is
   * copied. A volume whose key this node lacks fails the move here, as a live move's target does.
   */
  async incoming(instanceId: string): Promise<MovedVolume[]> {
    const r = await this.plan();
    const vols = r.volumes.filter((v) => v.incoming && v.attachment?.instanceId === instanceId && !v.attachment.detaching);
    for (const v of vols) {
      try {
        if (v.encrypted) this.pool.key(v.encryptionKeyId);
      } catch (e) {
        throw new IncomingVolumeError(`volume ${v.name || v.id} cannot be made on this node for the move: ${(e as Error).message}`);
      }
      // The marker first: a crash between the two leaves a marked copy (removed if the move failed), never an unmarked one.
      await writeFile(path.join(this.pool.dir, 'volumes', `${v.id}.incoming`), instanceId, { mode: 0o600 });
    }
    return vols.map((v) => ({ id: v.id, name: movedName(v.id), path: this.pool.volumePath(v.id) }));
  }

  /** Target: a copy of a move that failed, removed with its marker. */
  async drop(v: MovedVolume): Promise<void> {
    await this.pool.remove(v.path);
    await this.pool.remove(path.join(this.pool.dir, 'volumes', `${v.id}.incoming`));
  }
}

/** The name a volume's file is served under on both hosts. */
const movedName = (volumeId: string) => `vol-${volumeId}`;
