/**
 * How a volume appears in a QEMU: the same JSON for `-object`/`-blockdev`/`-device`
 * at launch and for QMP object-add/blockdev-add/device_add when hot-plugged, so a
 * volume looks the same however it got there. Pure.
 *
 *   throttle filter (node vol-<id>, group vol-<id>-tg: iops_limit, throughput_limit)
 *     └─ qcow2 (node vol-<id>-q; LUKS-encrypted with secret vol-<id>-key when encrypted)
 *          └─ file (node vol-<id>-f)
 */
export interface VolumeAttachSpec {
  readonly volumeId: string;
  readonly path: string;
  /** The key file (mode 0600) an encrypted volume is opened with; QEMU reads it, nobody passes the key. */
  readonly keyFile?: string;
  readonly iopsLimit: number;
  readonly throughputLimit: number;
  /** q35: the hot-plug port it was on when last reported (hp0..hp7), kept at launch so a move's destination matches its source. */
  readonly bus?: string;
}

const compact = (id: string) => id.replace(/-/g, '');
/** QEMU node names are at most 31 characters. */
export const volumeNode = (volumeId: string) => `vol-${compact(volumeId).slice(0, 24)}`;
export const volumeDevice = (volumeId: string) => `${volumeNode(volumeId)}-dev`;
export const isVolumeDevice = (id: string) => /^vol-[0-9a-f]{1,24}-dev$/.test(id);
/** virtio-blk serials are at most 20 bytes: the guest finds the volume at /dev/disk/by-id/virtio-<serial>. */
export const volumeSerial = (volumeId: string) => compact(volumeId).slice(0, 20);

export const throttleLimits = (v: Pick<VolumeAttachSpec, 'iopsLimit' | 'throughputLimit'>) => ({
  'iops-total': v.iopsLimit,
  'bps-total': v.throughputLimit,
});

export const volumeObjects = (v: VolumeAttachSpec): Record<string, unknown>[] => {
  const node = volumeNode(v.volumeId);
  return [
    ...(v.keyFile ? [{ 'qom-type': 'secret', id: `${node}-key`, file: v.keyFile, format: 'raw' }] : []),
    { 'qom-type': 'throttle-group', id: `${node}-tg`, limits: throttleLimits(v) },
  ];
};

export const volumeBlockdev = (v: VolumeAttachSpec): Record<string, unknown> => {
  const node = volumeNode(v.volumeId);
  return {
    driver: 'throttle',
    'node-name': node,
    'throttle-group': `${node}-tg`,
    file: {
      driver: 'qcow2',
      'node-name': `${node}-q`,
      ...(v.keyFile ? { encrypt: { format: 'luks', 'key-secret': `${node}-key` } } : {}),
      file: { driver: 'file', 'node-name': `${node}-f`, filename: v.path },
    },
  };
};

/** The guest's disk: virtio-blk on a hot-plug port of a q35, on virtio-mmio of a microvm. */
export const volumeDeviceArgs = (v: Pick<VolumeAttachSpec, 'volumeId'>, machine: 'q35' | 'microvm', bus?: string): Record<string, unknown> => ({
  driver: machine === 'q35' ? 'virtio-blk-pci' : 'virtio-blk-device',
  id: volumeDevice(v.volumeId),
  drive: volumeNode(v.volumeId),
  serial: volumeSerial(v.volumeId),
  // addr 0: a root port's one slot; without it QEMU would put a second device on another function of a taken port, which no guest sees.
  ...(bus ? { bus, addr: '0' } : {}),
});

/** Free PCIe root ports every q35 starts with, so volumes can be hot-plugged (a root port holds one device). */
export const HOTPLUG_PORTS = 8;
export const hotplugPort = (i: number) => `hp${i}`;
export const hotplugPortArgs = (): string[] =>
  Array.from({ length: HOTPLUG_PORTS }, (_, i) => ['-device', `pcie-root-port,id=${hotplugPort(i)},chassis=${i + 1},bus=pcie.0`]).flat();

export const isHotplugPort = (bus: string | undefined): bus is string => !!bus && /^hp[0-7]$/.test(bus);

/**
 * Where each volume of a q35 goes at launch: the port it was last on (so a live move's
 * destination has each disk where the source has it, whatever was detached in between),
 * the others on the first free ports in order.
 */
export const launchPorts = (vols: readonly Pick<VolumeAttachSpec, 'bus'>[]): string[] => {
  const taken = new Set(vols.map((v) => v.bus).filter(isHotplugPort));
  let next = 0;
  const seen = new Set<string>();
  return vols.map((v) => {
    if (isHotplugPort(v.bus) && !seen.has(v.bus)) {
      seen.add(v.bus);
      return v.bus;
    }
    while (taken.has(hotplugPort(next)) || seen.has(hotplugPort(next))) next++;
    seen.add(hotplugPort(next));
    return hotplugPort(next++);
  });
};

/** The volumes of an instance on its command line: objects, block nodes and devices (q35: on their ports). */
export const volumeLaunchArgs = (vols: readonly VolumeAttachSpec[], machine: 'q35' | 'microvm'): string[] => {
  const ports = launchPorts(vols);
  return vols.flatMap((v, i) => [
    ...volumeObjects(v).flatMap((o) => ['-object', JSON.stringify(o)]),
    '-blockdev', JSON.stringify(volumeBlockdev(v)),
    '-device', JSON.stringify(volumeDeviceArgs(v, machine, machine === 'q35' ? ports[i] : undefined)),
  ]);
};
