import type { NatsConnection, ObjectStore } from 'nats';
import type { SnapshotStore } from '../projections/snapshotter';

/**
 * Read-model snapshots in a JetStream object store (bucket HV_SNAPSHOTS):
 * chunked, so size is not bounded by the message size, and checked against
 * its SHA-256 digest on read, so a torn or damaged snapshot is not used.
 */
export class ObjectStoreSnapshots implements SnapshotStore {
  private constructor(
    private readonly os: ObjectStore,
    private readonly name: string,
  ) {}

  static async open(nc: NatsConnection, opts: { bucket?: string; name?: string; replicas?: number } = {}): Promise<ObjectStoreSnapshots> {
    const os = await nc.jetstream().views.os(opts.bucket ?? 'HV_SNAPSHOTS', { replicas: opts.replicas ?? 1 });
    return new ObjectStoreSnapshots(os, opts.name ?? 'read-models');
  }

  async load(): Promise<Uint8Array | undefined> {
    return (await this.os.getBlob(this.name)) ?? undefined;
  }

  async save(data: Uint8Array): Promise<void> {
    await this.os.putBlob({ name: this.name, description: 'read-model snapshot' }, data);
  }

  async delete(): Promise<void> {
    if (await this.os.info(this.name)) await this.os.delete(this.name);
  }
}
