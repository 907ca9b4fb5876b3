import type { Logger } from 'pino';
import type { StorageReply } from '../storage-protocol';
import { type DiskServer, type DiskServerAddress, fetchFile, type ServeSettings } from './disk-copy';
import type { StoragePool } from './pool';

type Report = (snapshotId: string, outcome: string, command: { type: string; data: unknown }) => Promise<unknown>;

/**
 * Snapshots follow their volume to its new node, one storage round at a time (level-triggered
 * from the plan), with the copy primitive of cold moves (disk-copy.ts): the node a snapshot is
 * on serves its file and says where (`serve`), the volume's node copies it and says so
 * (`incoming`), and the node it left removes its copy once it is recorded elsewhere
 * (`departedSnapshots`). A server that ended before its copy (its lifetime, an agent's
 * restart) is started again, on a new port, at the next round; a copy that failed is tried again.
 */
export class SnapshotMoves {
  /** Where this process serves each snapshot now (a restart finds none and serves afresh). */
  private readonly served = new Map<string, DiskServerAddress>();
  private readonly copies = new Map<string, Promise<void>>();
  /** The servers an earlier agent left, taken up at the first round. */
  private adopted?: Promise<void>;

  constructor(
    private readonly pool: StoragePool,
    private readonly server: DiskServer,
    private readonly settings: ServeSettings,
    private readonly log: Logger,
  ) {}

  async converge(r: StorageReply, report: Report): Promise<void> {
    const nodeId = r.nodeId;
    await (this.adopted ??= this.server.adopt());
    for (const s of r.snapshots) {
      if (s.serve) await this.serve(s.id, nodeId, report).catch((err) => this.log.warn({ err, snapshotId: s.id }, 'cannot serve a snapshot for its move'));
      else if (s.incoming) this.copy(s.id, s.incoming, nodeId, report);
    }
    for (const id of r.departedSnapshots ?? []) {
      await this.server.end(serverKey(id));
      this.served.delete(id);
      await this.pool.remove(this.pool.snapshotPath(id));
      await report(id, `copy-removed:${nodeId}`, { type: 'ReportSnapshotCopyRemoved', data: { nodeId } });
    }
  }

  private async serve(id: string, nodeId: string, report: Report): Promise<void> {
    let at = this.served.get(id);
    if (!at || !(await this.server.serving(serverKey(id)))) {
      at = await this.server.serveOnFreePort(serverKey(id), [{ name: servedName(id), path: this.pool.snapshotPath(id) }], this.settings);
      this.served.set(id, at);
    }
    await report(id, `served:${nodeId}:${at.host}:${at.port}`, { type: 'ReportSnapshotServed', data: { nodeId, endpoint: at } });
  }

  /** Beside the rounds, once at a time per snapshot: a copy takes as long as the file. */
  private copy(id: string, from: DiskServerAddress, nodeId: string, report: Report): void {
    if (this.copies.has(id)) return;
    const p = (async () => {
      const to = this.pool.snapshotPath(id);
      // Copied before (its report lost): only said again.
      if (!(await this.pool.exists(to))) await fetchFile(from, servedName(id), to);
      await report(id, `copied:${nodeId}`, { type: 'ReportSnapshotCopied', data: { nodeId } });
      this.log.info({ snapshotId: id }, 'snapshot copied here, after its volume');
    })()
      .catch((err) => this.log.warn({ err, snapshotId: id }, 'copying a snapshot after its volume failed; tried again next round'))
      .finally(() => this.copies.delete(id));
    this.copies.set(id, p);
  }

  /** The agent stops: copies under way are waited for; servers run on (the next agent adopts them). */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.copies.values()]);
    this.server.close();
  }
}

const serverKey = (snapshotId: string) => `snapshot-${snapshotId}`;
const servedName = (snapshotId: string) => `snap-${snapshotId}`;
