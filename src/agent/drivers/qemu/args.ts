import { InvalidArgument } from '../../../errors';
import { hotplugPortArgs, volumeLaunchArgs, type VolumeAttachSpec } from '../../storage/block-spec';

export type Machine = 'q35' | 'microvm';
export type Accel = 'kvm' | 'tcg';

export interface LaunchDisk {
  /** QEMU id of the drive; see driveId(). */
  id: string;
  path: string;
  format: 'qcow2' | 'raw';
  boot: boolean;
  /** The guest cannot write it (a NoCloud seed). */
  readOnly?: boolean;
}

export interface QemuLaunch {
  name: string;
  machine: Machine;
  accel: Accel;
  cpuCores: number;
  memoryBytes: number;
  kernelPath?: string;
  initrdPath?: string;
  kernelArgs?: string;
  disks: LaunchDisk[];
  /** virtio-net NICs on existing taps (the data plane made them; QEMU neither creates nor configures them). */
  nics?: { device: string; mac: string }[];
  qmpSocket: string;
  consoleSocket: string;
  pidFile: string;
  /** -S: vCPUs wait for QMP `cont`, so a console client can attach before the first byte. */
  startPaused?: boolean;
  /** Host TSC rate; see kernelCmdline(). */
  hostTscKhz?: number;
  /** q35: start with free PCIe root ports, so volumes can be hot-plugged later. */
  hotplugPorts?: boolean;
  /** Volumes attached while it was stopped (a microVM's only way to get one). */
  volumes?: VolumeAttachSpec[];
  /** UEFI: OVMF's code (read-only, shared) and this VM's own copy of its variable store; absent = SeaBIOS. */
  uefi?: { code: string; vars: string };
  /** A migration's destination: `-incoming defer`, the stream's address given later over QMP (migrate-incoming). */
  incoming?: boolean;
}

/** The serial port is the only console either machine gets. */
export const DEFAULT_KERNEL_ARGS = 'console=ttyS0 panic=-1';

const MiB = 1024 * 1024;

export const machineFor = (type: 'vm' | 'microvm'): Machine => (type === 'vm' ? 'q35' : 'microvm');

/** Drive ids must be QEMU identifiers; disk names are the user's and need not be. */
export const driveId = (index: number): string => `disk${index}`;

/** QEMU's option parser splits on ',', and ',,' is a literal comma. */
export const escapeOpt = (value: string): string => value.replace(/,/g, ',,');

/** The argv (without the binary) for qemu-system-x86_64. Pure. */
export function buildQemuArgs(l: QemuLaunch): string[] {
  validate(l);
  const args: string[] = [
    '-name', `guest=${escapeOpt(l.name)}`,
    // Only what we add: no default NIC, VGA, floppy, CD-ROM, monitor or serial.
    '-nodefaults', '-no-user-config',
    '-machine', l.machine,
    '-accel', l.accel,
    // TCG has no "host"; its default qemu64 model is what the boot figures were taken with.
    ...(l.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp', String(l.cpuCores),
    '-m', `${Math.ceil(l.memoryBytes / MiB)}M`,
    '-display', 'none',
    // A guest reboot ends the process; whether to start it again is the agent's call.
    '-no-reboot',
    '-pidfile', l.pidFile,
    '-qmp', `unix:${escapeOpt(l.qmpSocket)},server=on,wait=off`,
    '-chardev', `socket,id=con,path=${escapeOpt(l.consoleSocket)},server=on,wait=off`,
    '-serial', 'chardev:con',
  ];
  if (l.uefi) {
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${escapeOpt(l.uefi.code)}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${escapeOpt(l.uefi.vars)}`);
  }
  if (l.kernelPath) {
    args.push('-kernel', l.kernelPath);
    if (l.initrdPath) args.push('-initrd', l.initrdPath);
    args.push('-append', kernelCmdline(l));
  }
  // microvm has no PCI bus: its virtio devices sit on virtio-mmio transports.
  const blk = l.machine === 'q35' ? 'virtio-blk-pci' : 'virtio-blk-device';
  for (const d of l.disks) {
    args.push('-drive', `file=${escapeOpt(d.path)},format=${d.format},if=none,id=${d.id}${d.readOnly ? ',readonly=on' : ''}`);
    // bootindex is only meaningful to firmware; microvm boots a kernel directly.
    const boot = d.boot && l.machine === 'q35' && !l.kernelPath ? ',bootindex=0' : '';
    args.push('-device', `${blk},drive=${d.id},id=${d.id}-dev${boot}`);
  }
  if (l.hotplugPorts && l.machine === 'q35') args.push(...hotplugPortArgs());
  if (l.volumes?.length) {
    if (l.machine === 'q35' && !l.hotplugPorts) throw new InvalidArgument('volumes on a q35 sit on its hot-plug ports: set hotplugPorts');
    args.push(...volumeLaunchArgs(l.volumes, l.machine));
  }
  const net = l.machine === 'q35' ? 'virtio-net-pci' : 'virtio-net-device';
  for (const [i, n] of (l.nics ?? []).entries()) {
    args.push('-netdev', `tap,id=net${i},ifname=${escapeOpt(n.device)},script=no,downscript=no`);
    args.push('-device', `${net},netdev=net${i},mac=${n.mac},id=net${i}-dev`);
  }
  if (l.startPaused) args.push('-S');
  if (l.incoming) args.push('-incoming', 'defer');
  return args;
}

/**
 * The guest kernel's command line. A microvm has neither HPET nor ACPI PM timer, so the
 * kernel calibrates its TSC against the PIT alone; under TCG on a busy host that
 * calibration fails now and then, and the guest then waits forever for a timer tick
 * (seen here in about 1 boot in 3 under load, silent after "Poking KASLR"). TCG's guest
 * TSC runs at the host's rate, so telling the kernel that rate skips the calibration.
 */
export function kernelCmdline(l: Pick<QemuLaunch, 'machine' | 'accel' | 'kernelArgs' | 'hostTscKhz'>): string {
  const base = l.kernelArgs ?? DEFAULT_KERNEL_ARGS;
  if (l.machine !== 'microvm' || l.accel !== 'tcg' || !l.hostTscKhz || /(^|\s)tsc_early_khz=/.test(base)) return base;
  return `${base} tsc_early_khz=${Math.round(l.hostTscKhz)}`;
}

function validate(l: QemuLaunch): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(l.name)) throw new InvalidArgument(`instance name ${JSON.stringify(l.name)} is not usable as a QEMU name`);
  if (!Number.isInteger(l.cpuCores) || l.cpuCores < 1) throw new InvalidArgument(`cpuCores must be a positive integer, got ${l.cpuCores}`);
  if (!(l.memoryBytes >= 16 * MiB)) throw new InvalidArgument(`memoryBytes must be at least 16 MiB, got ${l.memoryBytes}`);
  if (l.machine === 'microvm' && !l.kernelPath) throw new InvalidArgument('a microvm has no firmware to boot a disk: kernelPath is required');
  if (l.uefi && l.machine !== 'q35') throw new InvalidArgument('UEFI firmware is for q35 VMs; a microvm boots its kernel directly');
  if (!l.kernelPath && !l.disks.some((d) => d.boot)) throw new InvalidArgument('nothing to boot: give kernelPath or a boot disk');
  if (l.hostTscKhz !== undefined && !(l.hostTscKhz > 0)) throw new InvalidArgument(`hostTscKhz must be positive, got ${l.hostTscKhz}`);
  if (l.initrdPath && !l.kernelPath) throw new InvalidArgument('initrdPath needs kernelPath');
  for (const n of l.nics ?? []) {
    if (!/^[A-Za-z0-9._-]{1,15}$/.test(n.device)) throw new InvalidArgument(`NIC device ${JSON.stringify(n.device)} is not a host interface name`);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(n.mac)) throw new InvalidArgument(`NIC MAC ${JSON.stringify(n.mac)} is not a MAC address`);
  }
  const ids = new Set<string>();
  for (const d of l.disks) {
    if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(d.id)) throw new InvalidArgument(`drive id ${JSON.stringify(d.id)} is not a QEMU identifier`);
    if (ids.has(d.id)) throw new InvalidArgument(`drive id ${d.id} is used twice`);
    ids.add(d.id);
  }
}
