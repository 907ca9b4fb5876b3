import type { SnapshotStore } from './snapshot-read';

/**
 * A snapshot store in memory, for tests of the Snapshotter. With a chunk
 * size it also reads in chunks of that many bytes, as the object store gives
 * its chunks, so a restore unzips and parses while reading.
 */
export class MemorySnapshotStore implements SnapshotStore {
  constructor(
    public data?: Uint8Array,
    private readonly chunkSize = 0,
  ) {}

  async load() {
    return this.data;
  }

  async save(d: Uint8Array) {
    this.data = d;
  }

  async delete() {
    this.data = undefined;
  }

  get read() {
    if (!this.chunkSize) return undefined;
    return async (onChunk: (c: Uint8Array) => void) => {
      if (!this.data) return false;
      for (let i = 0; i < this.data.length; i += this.chunkSize) onChunk(this.data.subarray(i, i + this.chunkSize));
      return true;
    };
  }
}
