import type { InstanceSpecData } from '../../commands/instance/spec';
import type { DiskSpec } from '../drivers/driver';

/**
 * A VM's disks as the driver makes them: the boot disk is an overlay of the
 * image; an image and no boot disk in the spec gives a root disk of the
 * image's size, first.
 */
export const layOutDisks = (disks: InstanceSpecData['disks'], image?: { path: string; format: 'raw' | 'qcow2' }): DiskSpec[] => {
  const out: DiskSpec[] = [];
  let booted = false;
  for (const d of disks) {
    booted ||= d.boot && !!image;
    out.push({
      name: d.name,
      sizeBytes: d.sizeBytes,
      boot: d.boot,
      ...(d.boot && image ? { baseImagePath: image.path, baseImageFormat: image.format } : {}),
    });
  }
  if (image && !booted) out.unshift({ name: 'root', sizeBytes: 0, boot: true, baseImagePath: image.path, baseImageFormat: image.format });
  return out;
};
