import { closeSync, mkdirSync, openSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Internal } from '../../errors';
import { lastMessage, runTool } from '../../images/oci/run-tool';
import { isMounted, unmount } from '../drivers/oci/mounts';
import { volumeBlockdev, volumeNode, volumeObjects, type VolumeAttachSpec } from './block-spec';

/**
 * A volume's file system for a container, on the host: qemu-storage-daemon
 * opens the qcow2 (through the same throttle filter a VM's volume has, so its
 * limits hold for containers too) and exports it over FUSE as a raw file; that
 * file is loop-mounted (ext4, made on first use) at `<dir>/<id>/mnt`, which the
 * container's bundle binds at the volume's device_path. Everything is found again
 * from the mounts and the pid file, so an agent restart adopts it.
 */
export class ContainerVolumes {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private paths(volumeId: string) {
    const d = path.join(this.dir, volumeId);
    return { d, raw: path.join(d, 'raw'), mnt: path.join(d, 'mnt'), pid: path.join(d, 'qsd.pid') };
  }

  /** The volume's file system mounted on the host; mounted already = done. */
  async mount(v: VolumeAttachSpec): Promise<string> {
    const p = this.paths(v.volumeId);
    mkdirSync(p.mnt, { recursive: true });
    if (!(await isMounted(p.raw))) {
      closeSync(openSync(p.raw, 'a'));
      const node = volumeNode(v.volumeId);
      const r = await runTool('qemu-storage-daemon', [
        ...volumeObjects(v).flatMap((o) => ['--object', JSON.stringify(o)]),
        '--blockdev', JSON.stringify(volumeBlockdev(v)),
        '--export', JSON.stringify({ type: 'fuse', id: `${node}-export`, 'node-name': node, mountpoint: p.raw, writable: true }),
        '--pidfile', p.pid,
        '--daemonize',
      ], { pkg: 'qemu-system-common' });
      if (r.code !== 0) throw new Internal(`qemu-storage-daemon for volume ${v.volumeId}: ${lastMessage(r.stderr)}`);
    }
    if (!(await isMounted(p.mnt))) {
      const fs = await runTool('blkid', ['-o', 'value', '-s', 'TYPE', p.raw], { pkg: 'util-linux' });
      if (!fs.stdout.trim()) {
        const mk = await runTool('mkfs.ext4', ['-q', '-F', p.raw], { pkg: 'e2fsprogs' });
        if (mk.code !== 0) throw new Internal(`mkfs.ext4 on volume ${v.volumeId}: ${lastMessage(mk.stderr)}`);
      }
      else if (/^ext[234]$/.test(fs.stdout.trim())) await this.grow(v.volumeId, p.raw);
      const m = await runTool('mount', ['-o', 'loop', p.raw, p.mnt], { pkg: 'mount' });
      if (m.code !== 0) throw new Internal(`mounting volume ${v.volumeId}: ${lastMessage(m.stderr)}`);
    }
    return p.mnt;
  }

  /**
   * A volume grown since its file system was made: the file system grows to the disk's size before
   * it is mounted (the kernel refuses an online resize of a loop device on FUSE); a no-op otherwise.
   */
  private async grow(volumeId: string, raw: string): Promise<void> {
    let r = await runTool('resize2fs', [raw], { pkg: 'e2fsprogs' });
    if (r.code !== 0 && /e2fsck/.test(r.stderr)) {
      await runTool('e2fsck', ['-f', '-p', raw], { pkg: 'e2fsprogs' });
      r = await runTool('resize2fs', [raw], { pkg: 'e2fsprogs' });
    }
    if (r.code !== 0) throw new Internal(`growing the file system of volume ${volumeId}: ${lastMessage(r.stderr)}`);
  }

  /** Unmounted, its daemon ended and its dir removed; never mounted = done. */
  async unmount(volumeId: string): Promise<void> {
    const p = this.paths(volumeId);
    await unmount(p.mnt);
    const pid = Number((await readFile(p.pid, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
      for (let i = 0; i < 50 && (await isMounted(p.raw)); i++) await sleep(100);
    }
    if (await isMounted(p.raw)) await unmount(p.raw);
    await rm(p.d, { recursive: true, force: true });
  }

  /** Volumes with something on the host (a dir: mounted, or half-made). */
  async held(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f-]{36}$/.test(n));
  }

  async isMounted(volumeId: string): Promise<boolean> {
    return isMounted(this.paths(volumeId).mnt);
  }
}
