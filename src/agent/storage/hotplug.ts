import { setTimeout as sleep } from 'node:timers/promises';
import { isQmpCommandError, type QmpClient } from '../drivers/qemu/qmp';
import {
  HOTPLUG_PORTS,
  hotplugPort,
  isVolumeDevice,
  throttleLimits,
  volumeBlockdev,
  volumeDevice,
  volumeDeviceArgs,
  volumeNode,
  volumeObjects,
  type VolumeAttachSpec,
} from './block-spec';

const T = { timeoutMs: 10_000 };

/** The volume devices a running QEMU has (device ids), read from QEMU itself: the truth after any crash. */
export const attachedDevices = async (m: QmpClient): Promise<string[]> => {
  const props = await m.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' }, T);
  return props.map((p) => p.name).filter(isVolumeDevice);
};

/** Block nodes of volumes left without a device (an unplug or plug cut short). */
const volumeNodes = async (m: QmpClient): Promise<Set<string>> => {
  const nodes = await m.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true }, T);
  return new Set(nodes.map((n) => n['node-name']).filter((n) => /^vol-[0-9a-f]+$/.test(n)));
};

const ignoring = async (p: Promise<unknown>, ...classes: string[]) => {
  try {
    await p;
  } catch (e) {
    if (!classes.some((c) => isQmpCommandError(e, c))) throw e;
  }
};

/**
 * Hot-plugs a volume into a running q35: its objects, its block node, then a
 * virtio-blk on the first free hot-plug port. Idempotent: what is already
 * there is kept; a half-made plug (objects, node, no device) is finished.
 */
export const plugVolume = async (m: QmpClient, v: VolumeAttachSpec): Promise<void> => {
  const node = volumeNode(v.volumeId);
  if ((await attachedDevices(m)).includes(volumeDevice(v.volumeId))) return;
  if (!(await volumeNodes(m)).has(node)) {
    for (const o of volumeObjects(v)) await ignoring(m.execute('object-add', o, T), 'GenericError');
    await m.execute('blockdev-add', volumeBlockdev(v), T);
  }
  const errors: string[] = [];
  for (let i = 0; i < HOTPLUG_PORTS; i++) {
    try {
      await m.execute('device_add', volumeDeviceArgs(v, 'q35', hotplugPort(i)), T);
      return;
    } catch (e) {
      // A port holds one device: taken ones refuse, the next may do.
      if (!isQmpCommandError(e)) throw e;
      errors.push(e.desc);
    }
  }
  await releaseNode(m, node);
  throw new Error(`no free hot-plug port in the VM (it has ${HOTPLUG_PORTS}): ${errors[errors.length - 1] ?? ''}`);
};

/**
 * Asks the guest to let go of the disk (device_del) and waits until QEMU says
 * the device is gone; then removes the block node and objects. Resolves false
 * when the guest has not let go within timeoutMs (the request stays pending in
 * QEMU: a later call finishes it).
 */
export const unplugNode = async (m: QmpClient, node: string, timeoutMs: number): Promise<boolean> => {
  const dev = `${node}-dev`;
  if ((await attachedDevices(m)).includes(dev)) {
    await ignoring(m.execute('device_del', { id: dev }, T), 'DeviceNotFound');
    const deadline = Date.now() + timeoutMs;
    while ((await attachedDevices(m)).includes(dev)) {
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  }
  await releaseNode(m, node);
  return true;
};

/** Every volume device and node that is not wanted, for a reconcile to end. */
export const strayVolumes = async (m: QmpClient, wanted: ReadonlySet<string>): Promise<string[]> => {
  const devs = await attachedDevices(m);
  const nodes = await volumeNodes(m);
  const stray = new Set<string>();
  for (const d of devs) if (!wanted.has(d.replace(/-dev$/, ''))) stray.add(d.replace(/-dev$/, ''));
  for (const n of nodes) if (!wanted.has(n)) stray.add(n);
  return [...stray];
};

const releaseNode = async (m: QmpClient, node: string) => {
  if ((await volumeNodes(m)).has(node)) await m.execute('blockdev-del', { 'node-name': node }, T);
  await ignoring(m.execute('object-del', { id: `${node}-tg` }, T), 'GenericError');
  await ignoring(m.execute('object-del', { id: `${node}-key` }, T), 'GenericError');
};

interface PciDevice {
  qdev_id?: string;
  pci_bridge?: { devices?: PciDevice[] };
}

/** The hot-plug port a volume's device sits on in a running q35 (read from QEMU: query-pci), or undefined. */
export const volumePort = async (m: QmpClient, volumeId: string): Promise<string | undefined> => {
  const buses = await m.execute<{ devices: PciDevice[] }[]>('query-pci', undefined, T);
  const dev = volumeDevice(volumeId);
  for (const b of buses) for (const d of b.devices) if (d.pci_bridge?.devices?.some((x) => x.qdev_id === dev)) return d.qdev_id;
  return undefined;
};

/** Grows the disk in the running guest (the guest sees the new size at once). */
export const resizeLive = (m: QmpClient, volumeId: string, sizeBytes: number) => m.execute('block_resize', { 'node-name': volumeNode(volumeId), size: sizeBytes }, T);

/** The throttle limits of a running volume, changed in place. */
export const setLimits = (m: QmpClient, v: Pick<VolumeAttachSpec, 'volumeId' | 'iopsLimit' | 'throughputLimit'>) =>
  m.execute('qom-set', { path: `/objects/${volumeNode(v.volumeId)}-tg`, property: 'limits', value: throttleLimits(v) }, T);

export const currentLimits = async (m: QmpClient, volumeId: string) => {
  const l = await m.execute<Record<string, number>>('qom-get', { path: `/objects/${volumeNode(volumeId)}-tg`, property: 'limits' }, T);
  return { iopsLimit: l['iops-total'] ?? 0, throughputLimit: l['bps-total'] ?? 0 };
};
