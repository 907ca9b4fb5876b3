import { createHash } from 'node:crypto';
import type { JetStreamClient, NatsConnection, ObjectStore } from 'nats';
import type { SnapshotStore } from '../projections/snapshotter';

/** The object store's chunk size (nats.js's default). */
const PIECE = 128 << 10;

/**
 * The bytes as a stream of one chunk a turn of the event loop: nats.js hashes what it is given
 * (in JavaScript) and sends it before it reads on, so a snapshot of tens of MB given whole
 * (putBlob) held the event loop for more than a second.
 */
const inPieces = (data: Uint8Array): ReadableStream<Uint8Array> => {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull: (c) =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          if (at >= data.length) c.close();
          else c.enqueue(data.subarray(at, at + PIECE));
          at += PIECE;
          resolve();
        }),
      ),
  });
};

/**
 * Read-model snapshots in a JetStream object store (bucket HV_SNAPSHOTS):
 * chunked, so size is not bounded by the message size, and checked against
 * its SHA-256 digest on read, so a torn or damaged snapshot is not used.
 */
export class ObjectStoreSnapshots implements SnapshotStore {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly os: ObjectStore,
    private readonly bucket: string,
    private readonly name: string,
  ) {}

  static async open(nc: NatsConnection, opts: { bucket?: string; name?: string; replicas?: number } = {}): Promise<ObjectStoreSnapshots> {
    const bucket = opts.bucket ?? 'HV_SNAPSHOTS';
    const js = nc.jetstream();
    const os = await js.views.os(bucket, { replicas: opts.replicas ?? 1 });
    return new ObjectStoreSnapshots(js, os, bucket, opts.name ?? 'read-models');
  }

  /**
   * The object's chunks, in order, read with one ordered consumer, its digest checked with
   * node:crypto as they come: true once every chunk was given and the digest matched (a torn or
   * damaged object throws at the end), false without a snapshot. nats.js's getBlob hashes in
   * JavaScript and grows its buffer as chunks come: at 10,000,000 events (a snapshot of tens of
   * MB) that was most of a restart's read. The layout read here (chunks on `$O.<bucket>.C.<nuid>`,
   * `SHA-256=` and the base64url digest in the info) is the object store's as nats.js writes it
   * (NATS ADR-20).
   */
  async read(onChunk: (chunk: Uint8Array) => void): Promise<boolean> {
    const info = await this.os.info(this.name);
    if (!info || info.deleted) return false;
    if (info.options?.link) throw new Error(`snapshot ${this.name} is a link`);
    if (!info.digest.startsWith('SHA-256=')) throw new Error(`snapshot ${this.name}: unknown digest ${info.digest}`);
    const hash = createHash('sha256');
    let size = 0;
    if (info.size > 0) {
      const consumer = await this.js.consumers.get(`OBJ_${this.bucket}`, { filterSubjects: `$O.${this.bucket}.C.${info.nuid}` });
      const chunks = await consumer.consume({ max_messages: 64 });
      try {
        for await (const m of chunks) {
          size += m.data.length;
          if (size > info.size) throw new Error(`snapshot ${this.name}: more than its ${info.size} bytes`);
          hash.update(m.data);
          onChunk(m.data);
          if (m.info.pending === 0) break;
        }
      } finally {
        chunks.stop();
      }
    }
    const digest = hash.digest();
    if (size !== info.size || !digest.equals(Buffer.from(info.digest.slice('SHA-256='.length), 'base64url')))
      throw new Error(`snapshot ${this.name}: torn or damaged (${size} of ${info.size} bytes read, digest ${digest.toString('base64url')}, stored ${info.digest})`);
    return true;
  }

  async load(): Promise<Uint8Array | undefined> {
    const chunks: Uint8Array[] = [];
    return (await this.read((c) => chunks.push(c))) ? Buffer.concat(chunks) : undefined;
  }

  async save(data: Uint8Array): Promise<void> {
    await this.os.put({ name: this.name, description: 'read-model snapshot' }, inPieces(data));
  }

  async delete(): Promise<void> {
    if (await this.os.info(this.name)) await this.os.delete(this.name);
  }
}
