import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent';
import { volumeSerial } from '../../src/agent/storage/block-spec';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import type { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { type CreateVolumeRequest, type StorageServiceClient, type Volume, VolumeStatus, VolumeType } from '../../src/gen/hypervisor/v1/storage';
import { ConsoleSession, createRequest, type InstanceWatch, MiB } from './compute';
import { call, until } from './control-plane';
import type { ImageServer } from './image-server';

export const GUEST_READY = 'HV-GUEST-READY';

/** A volume's file in an agent's pool (<state-dir>/volumes), and what else of it is there. */
export const volumeFileOf = (dir: string, volumeId: string) => path.join(dir, 'volumes', 'volumes', `${volumeId}.qcow2`);
export const volumeFilesNaming = (dir: string, volumeId: string) => readdirSync(path.join(dir, 'volumes', 'volumes')).filter((f) => f.includes(volumeId));
/** What the QEMU driver keeps of an instance on an agent (its disks, its spec), if anything. */
export const qemuFilesOf = (dir: string, instanceId: string) => readdirSync(path.join(dir, 'qemu', 'instances')).filter((f) => f === instanceId);

/**
 * The two-agent lab of the moves of VMs with volumes (real QEMU under TCG, on this host):
 * volumes made on a node, q35 VMs booted on one, volumes attached and found in the guest by
 * their serial, and 512-byte blocks written and read back past the page cache.
 */
export class VolumeVmLab {
  constructor(
    private readonly c: ComputeServiceClient,
    private readonly s: StorageServiceClient,
    private readonly watch: InstanceWatch,
    private readonly images: ImageServer,
  ) {}

  async volumeOn(name: string, nodeId: string, over: Partial<CreateVolumeRequest> = {}): Promise<Volume> {
    const s = this.s;
    const v = await call(s, s.createVolume, {
      name, description: '', sizeBytes: 64n * BigInt(MiB), type: VolumeType.VOLUME_TYPE_UNSPECIFIED, tenantId: 't1', sourceSnapshotId: '', sourceVolumeId: '',
      iopsLimit: 0n, throughputLimit: 0n, encrypted: false, encryptionKeyId: '', preferredNodeId: nodeId, availabilityZone: '', metadata: undefined, ...over,
    });
    // Generous: on a loaded machine the agent's storage work shares two cores with every other guest; a failure says where it stood.
    let last: Volume | undefined;
    return until(`volume ${name} AVAILABLE`, async () => {
      last = await call(s, s.getVolume, { volumeId: v.id });
      return last.status === VolumeStatus.VOLUME_STATUS_AVAILABLE ? last : undefined;
    }, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}: it is ${VolumeStatus[last?.status ?? 0]} on ${last?.nodeId}, ${JSON.stringify(last?.metadata?.annotations ?? {})}`);
    });
  }

  /** A q35 VM on the agent, booted (a silent TCG boot is restarted once), with its console. */
  async bootOn(a: Agent, name: string, withRoot: boolean): Promise<{ id: string; con: ConsoleSession }> {
    const { c, images } = this;
    const root = withRoot ? { image: images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] } : {};
    const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB, ...root }, { preferredNodeId: a.nodeId }));
    const running = (await this.watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000)).instance!;
    assert.equal(running.nodeId, a.nodeId);
    return { id: i.id, con: await this.console(i.id) };
  }

  /** The console of a running VM once its guest is up (a silent TCG boot is restarted once). */
  async console(instanceId: string): Promise<ConsoleSession> {
    const c = this.c;
    for (let attempt = 1; ; attempt++) {
      const con = new ConsoleSession(c, instanceId);
      if (await con.waitFor(GUEST_READY, 30_000)) return con;
      con.close();
      if (attempt === 2) throw new Error(`${instanceId}: no ${GUEST_READY} twice`);
      await call(c, c.restartInstance, { instanceId, force: true });
    }
  }

  /** Attaches the volume and waits until the guest sees it: its device name there (vdX), found by its serial. */
  async attach(con: ConsoleSession, v: Volume, instanceId: string): Promise<string> {
    await call(this.s, this.s.attachVolume, { volumeId: v.id, instanceId, devicePath: '' });
    return this.diskBySerial(con, v.id);
  }

  diskBySerial(con: ConsoleSession, volumeId: string): Promise<string> {
    return until(`the guest to see volume ${volumeId}`, async () => {
      const out = await con.run('for d in /sys/block/vd*; do [ -e $d ] && echo "DISK $(basename $d) $(cat $d/serial) ."; done', 20_000);
      return [...out.matchAll(/DISK (vd[a-z]+) (\S+) \./g)].find((m) => m[2] === volumeSerial(volumeId))?.[1];
    }, 30_000);
  }

  /** The first line of a 512-byte block of a disk, read past the page cache. R$((1+1))D: the answer says R2D, its echoed command line does not. */
  async readBlock(con: ConsoleSession, dev: string, block: number): Promise<string> {
    const out = await con.run(`sync; echo 3 > /proc/sys/vm/drop_caches; echo "R$((1+1))D:$(dd if=/dev/${dev} bs=512 skip=${block} count=1 2>/dev/null | head -n 1):END"`, 20_000);
    return /R2D:([^:\r\n]*):END/.exec(out)?.[1] ?? '';
  }

  writeBlock(con: ConsoleSession, dev: string, block: number, marker: string): Promise<string> {
    return con.run(`printf '${marker}\\n' | dd of=/dev/${dev} bs=512 seek=${block} count=1 conv=sync,notrunc,fsync 2>/dev/null; sync`, 20_000);
  }
}
