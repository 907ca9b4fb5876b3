import assert from 'node:assert/strict';
import { InvalidArgument } from '../../../errors';
import { buildQemuArgs, DEFAULT_KERNEL_ARGS, escapeOpt, kernelCmdline, machineFor, type QemuLaunch } from './args';

const base = (over: Partial<QemuLaunch> = {}): QemuLaunch => ({
  name: 'vm-1',
  machine: 'q35',
  accel: 'tcg',
  cpuCores: 2,
  memoryBytes: 256 * 1024 * 1024,
  kernelPath: '/g/vmlinuz',
  initrdPath: '/g/initrd',
  disks: [{ id: 'disk0', path: '/s/vm-1/disks/root.qcow2', format: 'qcow2', boot: true }],
  qmpSocket: '/s/vm-1/qmp.sock',
  consoleSocket: '/s/vm-1/console.sock',
  pidFile: '/s/vm-1/qemu.pid',
  ...over,
});

/** The value following a flag; flags that repeat give every value. */
const values = (args: string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
const value = (args: string[], flag: string): string | undefined => values(args, flag)[0];

describe('qemu args', () => {
  it('boots UEFI from OVMF as two pflash drives (code read-only, the VM\'s own variable store), and a seed read-only on virtio-blk', () => {
    const a = buildQemuArgs(
      base({
        kernelPath: undefined,
        initrdPath: undefined,
        uefi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/s/vm-1/efivars.fd' },
        disks: [
          { id: 'disk0', path: '/s/vm-1/disks/root.qcow2', format: 'qcow2', boot: true },
          { id: 'seed', path: '/s/vm-1/seed.iso', format: 'raw', boot: false, readOnly: true },
        ],
      }),
    );
    assert.deepEqual(values(a, '-drive'), [
      'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      'if=pflash,format=raw,unit=1,file=/s/vm-1/efivars.fd',
      'file=/s/vm-1/disks/root.qcow2,format=qcow2,if=none,id=disk0',
      'file=/s/vm-1/seed.iso,format=raw,if=none,id=seed,readonly=on',
    ]);
    assert.ok(values(a, '-device').includes('virtio-blk-pci,drive=disk0,id=disk0-dev,bootindex=0'));
    assert.ok(values(a, '-device').includes('virtio-blk-pci,drive=seed,id=seed-dev'));
    assert.ok(!values(buildQemuArgs(base()), '-drive').some((d) => d.includes('pflash')), 'SeaBIOS without uefi');
    assert.throws(() => buildQemuArgs(base({ machine: 'microvm', uefi: { code: '/c', vars: '/v' } })), /UEFI firmware is for q35 VMs/);
  });
  it('puts each NIC on its existing tap: virtio-net-pci on q35, virtio-net-device on microvm, with the port MAC; none without NICs', () => {
    const nics = [{ device: 'hv-t0123456789a', mac: '02:00:00:00:00:01' }];
    const q = buildQemuArgs(base({ nics }));
    assert.deepEqual(values(q, '-netdev'), ['tap,id=net0,ifname=hv-t0123456789a,script=no,downscript=no']);
    assert.ok(values(q, '-device').includes('virtio-net-pci,netdev=net0,mac=02:00:00:00:00:01,id=net0-dev'));
    const m = buildQemuArgs(base({ machine: 'microvm', nics }));
    assert.ok(values(m, '-device').includes('virtio-net-device,netdev=net0,mac=02:00:00:00:00:01,id=net0-dev'));
    assert.deepEqual(values(buildQemuArgs(base()), '-netdev'), []);
    assert.throws(() => buildQemuArgs(base({ nics: [{ device: 'a,b=c', mac: '02:00:00:00:00:01' }] })), InvalidArgument);
    assert.throws(() => buildQemuArgs(base({ nics: [{ device: 'tap0', mac: 'nope' }] })), InvalidArgument);
  });
  it('builds a q35 VM with TCG, virtio-blk-pci, QMP and a console socket', () => {
    const a = buildQemuArgs(base());
    assert.equal(value(a, '-machine'), 'q35');
    assert.equal(value(a, '-accel'), 'tcg');
    assert.equal(value(a, '-cpu'), undefined, 'TCG keeps the default CPU model');
    assert.equal(value(a, '-smp'), '2');
    assert.equal(value(a, '-m'), '256M');
    assert.equal(value(a, '-kernel'), '/g/vmlinuz');
    assert.equal(value(a, '-initrd'), '/g/initrd');
    assert.equal(value(a, '-append'), DEFAULT_KERNEL_ARGS);
    assert.deepEqual(values(a, '-drive'), ['file=/s/vm-1/disks/root.qcow2,format=qcow2,if=none,id=disk0']);
    assert.deepEqual(values(a, '-device'), ['virtio-blk-pci,drive=disk0,id=disk0-dev']);
    assert.equal(value(a, '-qmp'), 'unix:/s/vm-1/qmp.sock,server=on,wait=off');
    assert.equal(value(a, '-chardev'), 'socket,id=con,path=/s/vm-1/console.sock,server=on,wait=off');
    assert.equal(value(a, '-serial'), 'chardev:con');
    assert.equal(value(a, '-pidfile'), '/s/vm-1/qemu.pid');
    assert.equal(value(a, '-display'), 'none');
    for (const flag of ['-nodefaults', '-no-user-config', '-no-reboot']) assert.ok(a.includes(flag), flag);
    assert.ok(!a.includes('-S'));
    assert.ok(!a.includes('-daemonize'), 'the driver spawns QEMU detached itself');
  });

  it('uses -cpu host with KVM', () => {
    const a = buildQemuArgs(base({ accel: 'kvm' }));
    assert.equal(value(a, '-accel'), 'kvm');
    assert.equal(value(a, '-cpu'), 'host');
  });

  it('puts microvm disks on virtio-mmio', () => {
    const a = buildQemuArgs(base({ machine: 'microvm' }));
    assert.equal(value(a, '-machine'), 'microvm');
    assert.deepEqual(values(a, '-device'), ['virtio-blk-device,drive=disk0,id=disk0-dev']);
  });

  it('boots a q35 VM from its boot disk when there is no kernel', () => {
    const a = buildQemuArgs(
      base({
        kernelPath: undefined,
        initrdPath: undefined,
        disks: [
          { id: 'disk0', path: '/d/data.qcow2', format: 'qcow2', boot: false },
          { id: 'disk1', path: '/d/root.qcow2', format: 'qcow2', boot: true },
        ],
      }),
    );
    assert.equal(value(a, '-kernel'), undefined);
    assert.equal(value(a, '-append'), undefined);
    assert.deepEqual(values(a, '-device'), ['virtio-blk-pci,drive=disk0,id=disk0-dev', 'virtio-blk-pci,drive=disk1,id=disk1-dev,bootindex=0']);
  });

  it('starts paused when asked, for attaching the console before boot', () => {
    assert.ok(buildQemuArgs(base({ startPaused: true })).includes('-S'));
  });

  it('rounds memory up to whole MiB', () => {
    assert.equal(value(buildQemuArgs(base({ memoryBytes: 128 * 1024 * 1024 + 1 })), '-m'), '129M');
  });

  it('doubles commas in paths, which QEMU would read as option separators', () => {
    assert.equal(escapeOpt('/a,b/c'), '/a,,b/c');
    const a = buildQemuArgs(base({ disks: [{ id: 'disk0', path: '/x,y.qcow2', format: 'qcow2', boot: true }], qmpSocket: '/s,1/qmp.sock' }));
    assert.equal(value(a, '-drive'), 'file=/x,,y.qcow2,format=qcow2,if=none,id=disk0');
    assert.equal(value(a, '-qmp'), 'unix:/s,,1/qmp.sock,server=on,wait=off');
  });

  it('passes the caller kernel args through', () => {
    assert.equal(value(buildQemuArgs(base({ kernelArgs: 'console=ttyS0 quiet' })), '-append'), 'console=ttyS0 quiet');
  });

  it('tells a TCG microvm kernel the TSC rate, and nobody else', () => {
    const l = { machine: 'microvm' as const, accel: 'tcg' as const, kernelArgs: 'console=ttyS0', hostTscKhz: 2096029.4 };
    assert.equal(kernelCmdline(l), 'console=ttyS0 tsc_early_khz=2096029');
    assert.equal(kernelCmdline({ ...l, machine: 'q35' }), 'console=ttyS0');
    assert.equal(kernelCmdline({ ...l, accel: 'kvm' }), 'console=ttyS0');
    assert.equal(kernelCmdline({ ...l, hostTscKhz: undefined }), 'console=ttyS0');
    assert.equal(kernelCmdline({ ...l, kernelArgs: 'console=ttyS0 tsc_early_khz=1000' }), 'console=ttyS0 tsc_early_khz=1000');
    assert.equal(value(buildQemuArgs(base({ machine: 'microvm', hostTscKhz: 1000 })), '-append'), `${DEFAULT_KERNEL_ARGS} tsc_early_khz=1000`);
  });

  it('maps instance types to machines', () => {
    assert.equal(machineFor('vm'), 'q35');
    assert.equal(machineFor('microvm'), 'microvm');
  });

  describe('rejects what QEMU would reject later, with a reason', () => {
    const cases: [string, Partial<QemuLaunch>, RegExp][] = [
      ['microvm without kernel', { machine: 'microvm', kernelPath: undefined, initrdPath: undefined }, /kernelPath is required/],
      ['nothing to boot', { kernelPath: undefined, initrdPath: undefined, disks: [] }, /nothing to boot/],
      ['initrd without kernel', { kernelPath: undefined, disks: [{ id: 'disk0', path: '/r', format: 'raw', boot: true }] }, /initrdPath needs kernelPath/],
      ['zero CPUs', { cpuCores: 0 }, /cpuCores/],
      ['fractional CPUs', { cpuCores: 1.5 }, /cpuCores/],
      ['tiny memory', { memoryBytes: 1024 }, /memoryBytes/],
      ['bad name', { name: 'a b' }, /name/],
      ['bad drive id', { disks: [{ id: '0disk', path: '/r', format: 'raw', boot: true }] }, /drive id/],
      ['duplicate drive id', { disks: [{ id: 'd', path: '/r', format: 'raw', boot: true }, { id: 'd', path: '/s', format: 'raw', boot: false }] }, /twice/],
      ['bad TSC rate', { hostTscKhz: -1 }, /hostTscKhz/],
    ];
    for (const [name, over, message] of cases) {
      it(name, () => {
        assert.throws(() => buildQemuArgs(base(over)), (e: unknown) => e instanceof InvalidArgument && message.test(e.message));
      });
    }
  });
});
