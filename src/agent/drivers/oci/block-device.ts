import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export interface BlockDevice {
  readonly major: number;
  readonly minor: number;
}

// Linux's dev_t split (new_decode_dev).
const major = (dev: number) => ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
const minor = (dev: number) => (dev & 0xff) | ((dev >> 12) & ~0xff);

/**
 * The whole disk that holds `p`: IO throttles apply to disks, not partitions,
 * and a container's writes land on the disk under the agent's state dir.
 * undefined when no block device holds it (tmpfs, a network filesystem).
 */
export const diskOf = async (p: string): Promise<BlockDevice | undefined> => {
  const dev = (await stat(p)).dev;
  const id = `${major(dev)}:${minor(dev)}`;
  const sys = await realpath(`/sys/dev/block/${id}`).catch(() => undefined);
  if (!sys) return undefined;
  const isPartition = await stat(path.join(sys, 'partition')).then(
    () => true,
    () => false,
  );
  const devFile = isPartition ? path.join(sys, '..', 'dev') : path.join(sys, 'dev');
  const [ma, mi] = (await readFile(devFile, 'utf8')).trim().split(':').map(Number);
  return { major: ma, minor: mi };
};
