import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpClient } from '../drivers/qemu/qmp';
import { volumeNode } from './block-spec';
import type { Key } from './pool';

const T = { timeoutMs: 10_000 };

interface Job {
  id: string;
  status: string;
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

/**
 * A crash-consistent snapshot of a volume a running QEMU holds: a full
 * backup job (blockdev-backup, sync=full) of its qcow2 node into `target`.
 * The job copies each block before the guest overwrites it, so the copy is
 * the disk as it was when the job started, however long the copy takes.
 */
export const snapshotLive = async (m: QmpClient, volumeId: string, snapshotId: string, target: string, key: Key | undefined, progress: (p: number) => void): Promise<void> => {
  const node = `snap-${snapshotId.replace(/-/g, '').slice(0, 24)}`;
  const job = `${node}-job`;
  const keyId = `${node}-key`;
  if (key) await m.execute('object-add', { 'qom-type': 'secret', id: keyId, file: key.file, format: 'raw' }, T);
  try {
    await m.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': node,
      ...(key ? { encrypt: { format: 'luks', 'key-secret': keyId } } : {}),
      file: { driver: 'file', filename: target },
    }, T);
    try {
      await m.execute('blockdev-backup', { 'job-id': job, device: `${volumeNode(volumeId)}-q`, target: node, sync: 'full', 'auto-dismiss': false }, T);
      for (;;) {
        const j = (await m.execute<Job[]>('query-jobs', undefined, T)).find((x) => x.id === job);
        if (!j) throw new Error(`backup job ${job} vanished`);
        if (j['total-progress'] > 0) progress((100 * j['current-progress']) / j['total-progress']);
        if (j.status === 'concluded') {
          await m.execute('job-dismiss', { id: job }, T);
          if (j.error) throw new Error(`backup job: ${j.error}`);
          return;
        }
        await sleep(100);
      }
    } finally {
      await m.execute('blockdev-del', { 'node-name': node }, T).catch(() => undefined);
    }
  } finally {
    if (key) await m.execute('object-del', { id: keyId }, T).catch(() => undefined);
  }
};
