import { copyFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { FailedPrecondition } from '../../../errors';
import { firmwareOf, wantsCloudInit } from '../../../domain/guest-annotations';
import { noCloudSeed } from '../../cloud-init/nocloud';
import { writeSeedIso } from '../../cloud-init/seed-iso';
import { probeFirmware } from '../../images/boot-firmware';
import type { InstanceSpecForDriver, LaunchWork } from '../driver';
import type { LaunchDisk } from './args';
import type { InstanceDir, StoredSpec } from './state-dir';

/** Debian's `ovmf` package: the 4 MiB builds, which q35 takes as two pflash drives. */
export const DEFAULT_OVMF = { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' };

export interface GuestBootOptions {
  qemuImg: string;
  /** Whether this node answers the metadata service (the seed then routes to it and phones home). */
  metadata: boolean;
}

/**
 * What a VM boots with besides its disks: the firmware (the annotation, else probed
 * from the boot image's partition table, else BIOS) and, for a guest that boots an
 * image or is given user-data or keys, a NoCloud seed with its facts.
 */
export async function withGuestBoot(spec: InstanceSpecForDriver, w: LaunchWork, o: GuestBootOptions): Promise<InstanceSpecForDriver> {
  const bootImage = !spec.kernelPath ? spec.disks.find((d) => d.boot && d.baseImagePath) : undefined;
  let firmware = spec.type === 'vm' && !spec.kernelPath ? firmwareOf(w.annotations) : undefined;
  if (spec.type === 'vm' && !spec.kernelPath && !firmware && bootImage?.baseImagePath)
    firmware = await probeFirmware(o.qemuImg, bootImage.baseImagePath, bootImage.baseImageFormat ?? 'qcow2');
  const seeded = wantsCloudInit(w.annotations) || !!bootImage;
  return {
    ...spec,
    ...(firmware === 'uefi' ? { firmware } : {}),
    ...(seeded ? { seed: noCloudSeed({ instanceId: w.instanceId, name: w.name, annotations: w.annotations, network: w.network }, { metadata: o.metadata }) } : {}),
  };
}

export const efiVarsPath = (dir: InstanceDir) => path.join(dir.dir, 'efivars.fd');
export const seedPath = (dir: InstanceDir) => path.join(dir.dir, 'seed.iso');

/**
 * The files create() makes for it, in the instance's dir (so a destroy removes them):
 * the VM's own UEFI variable store (copied once: the guest's boot entries live in it)
 * and the seed ISO. Returns the spec as spec.json keeps it: without the seed's contents.
 */
export async function prepareGuestBoot(dir: InstanceDir, spec: InstanceSpecForDriver, ovmf: { code: string; vars: string }, genisoimage?: string): Promise<Pick<StoredSpec, 'spec' | 'seed'>> {
  if (spec.firmware === 'uefi') {
    for (const f of [ovmf.code, ovmf.vars])
      if (!(await stat(f).then(() => true, () => false))) throw new FailedPrecondition(`UEFI firmware ${f} is missing (Debian package ovmf)`);
    const vars = efiVarsPath(dir);
    if (!(await stat(vars).then(() => true, () => false))) {
      await copyFile(ovmf.vars, `${vars}.partial`);
      await rename(`${vars}.partial`, vars);
    }
  }
  const { seed, ...kept } = spec;
  if (!seed) return { spec: kept };
  await writeSeedIso(seedPath(dir), seed, { genisoimage });
  return { spec: kept, seed: seedPath(dir) };
}

/** The seed as QEMU sees it: read-only on virtio-blk (Debian's cloud kernel has no AHCI for a CD-ROM on q35's SATA). */
export const seedDisk = (stored: StoredSpec): LaunchDisk[] => (stored.seed ? [{ id: 'seed', path: stored.seed, format: 'raw', boot: false, readOnly: true }] : []);

export const uefiOf = (dir: InstanceDir, stored: StoredSpec, ovmf: { code: string }) => (stored.spec.firmware === 'uefi' ? { uefi: { code: ovmf.code, vars: efiVarsPath(dir) } } : {});
