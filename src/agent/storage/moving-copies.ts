import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DesiredVolume, StorageReply } from '../storage-protocol';
import { FailedPrecondition } from '../../errors';
import type { Key, StoragePool } from './pool';

/** A volume coming with a live move cannot be made here: the destination is useless without it, so its preparation fails. */
export class IncomingVolumeError extends FailedPrecondition {}

/**
 * The copies of volumes a live migration moves between nodes, on one node's pool.
 *
 * On the target, an incoming volume is made empty at its size (and with its key) before
 * the destination QEMU opens it; the source mirrors the guest's disk into it. It is marked
 * (`<id>.incoming`, naming the instance) until its node_id is this node: a move that
 * failed leaves a marked copy no plan holds, and only such a copy is removed here, so a
 * file this node owns is never taken for one. On the source, the copy a move left behind
 * is removed once no QEMU here holds it, and reported removed.
 */
export class MovingCopies {
  constructor(private readonly pool: StoragePool) {}

  private marker = (id: string) => path.join(this.pool.dir, 'volumes', `${id}.incoming`);

  /** The target's copy of an incoming volume, made (empty, the same size and key) if it is not here yet. */
  async prepare(v: DesiredVolume, instanceId: string, key?: Key): Promise<void> {
    if (await this.pool.exists(this.pool.volumePath(v.id))) return;
    // The marker first: a crash between the two leaves a marked copy (removed if the move failed), never an unmarked one.
    await writeFile(this.marker(v.id), instanceId, { mode: 0o600 });
    await this.pool.createBlank(v.id, v.sizeBytes, key);
  }

  /**
   * One round's part: copies left behind on a source that no QEMU here holds are removed
   * and reported; marked copies whose volume now belongs here lose their marker; marked
   * copies no plan holds (the move failed) are removed, unless made after the plan was
   * read (a move that began since) or their instance's QEMU still runs here.
   */
  async converge(r: StorageReply, planReadAtMs: number, running: ReadonlySet<string>, removed: (volumeId: string) => Promise<unknown>): Promise<void> {
    for (const d of r.departed ?? []) {
      if (running.has(d.instanceId)) continue;
      await this.pool.remove(this.pool.volumePath(d.id));
      await rm(this.marker(d.id), { force: true });
      await removed(d.id);
    }
    const byId = new Map(r.volumes.map((v) => [v.id, v]));
    for (const id of await this.marked()) {
      const v = byId.get(id);
      if (v && !v.incoming) await rm(this.marker(id), { force: true });
      if (v) continue;
      const st = await stat(this.marker(id)).catch(() => undefined);
      if (!st || st.mtimeMs >= planReadAtMs) continue;
      const instanceId = await readFile(this.marker(id), 'utf8').catch(() => '');
      if (running.has(instanceId)) continue;
      await this.pool.remove(this.pool.volumePath(id));
      await rm(this.marker(id), { force: true });
    }
  }

  /** Volumes whose copy here was made for a move to this node and is not this node's yet. */
  async marked(): Promise<string[]> {
    const names = await readdir(path.join(this.pool.dir, 'volumes')).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.incoming')).map((n) => n.slice(0, -'.incoming'.length));
  }
}
