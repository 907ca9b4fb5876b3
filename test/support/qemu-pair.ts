import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { hostTscKhz } from '../../src/agent/drivers/qemu/accel';
import { buildQemuArgs } from '../../src/agent/drivers/qemu/args';
import { waitForOutput } from '../../src/agent/drivers/qemu/console';
import { ensureDisk } from '../../src/agent/drivers/qemu/disks';
import { QmpClient } from '../../src/agent/drivers/qemu/qmp';
import { connectUnix } from '../../src/agent/drivers/qemu/unix-socket';
import type { VolumeAttachSpec } from '../../src/agent/storage/block-spec';
import { until } from './until';

const MiB = 2 ** 20;

/**
 * One plain QEMU (microvm, TCG, the test guest) launched with the driver's argv, with its
 * QMP client and console: the two ends of a migration made by hand, for the migration
 * engine's tests and the benchmark's floor. `incoming` makes a destination.
 */
export class TestQemu {
  child?: ChildProcess;
  qmp!: QmpClient;
  private console?: net.Socket;
  readonly dir: string;

  constructor(
    root: string,
    readonly name: string,
    private readonly guest: string,
    /** extraArgs: appended to the driver's argv (a machine that differs from its peer's, to make a migration fail). */
    private readonly opts: { incoming?: boolean; memoryBytes?: number; prefix?: string[]; volumes?: VolumeAttachSpec[]; extraArgs?: string[] } = {},
  ) {
    this.dir = path.join(root, name);
  }

  get disk(): string {
    return path.join(this.dir, 'root.qcow2');
  }

  async start(): Promise<this> {
    mkdirSync(this.dir, { recursive: true });
    await ensureDisk('qemu-img', { path: this.disk, sizeBytes: 32 * MiB, basePath: path.join(this.guest, 'disk.raw') });
    const argv = buildQemuArgs({
      name: this.name,
      machine: 'microvm',
      accel: 'tcg',
      cpuCores: 1,
      memoryBytes: this.opts.memoryBytes ?? 128 * MiB,
      kernelPath: path.join(this.guest, 'vmlinuz'),
      initrdPath: path.join(this.guest, 'initramfs.cpio.gz'),
      kernelArgs: 'console=ttyS0 panic=-1 quiet',
      disks: [{ id: 'disk0', path: this.disk, format: 'qcow2', boot: true }],
      qmpSocket: path.join(this.dir, 'qmp.sock'),
      consoleSocket: path.join(this.dir, 'console.sock'),
      pidFile: path.join(this.dir, 'qemu.pid'),
      hostTscKhz: await hostTscKhz(),
      incoming: this.opts.incoming,
      ...(this.opts.volumes ? { volumes: this.opts.volumes } : {}),
    });
    const [bin, ...pre] = [...(this.opts.prefix ?? []), 'qemu-system-x86_64'];
    this.child = spawn(bin, [...pre, ...argv, ...(this.opts.extraArgs ?? [])], { stdio: 'ignore' });
    await until(`${this.name}'s QMP`, async () => {
      try {
        this.qmp = await QmpClient.connect(path.join(this.dir, 'qmp.sock'), { timeoutMs: 2_000 });
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    return this;
  }

  /** The serial console (connected once; a destination's only after it runs). */
  async tty(): Promise<net.Socket> {
    return (this.console ??= await connectUnix(path.join(this.dir, 'console.sock'), 5_000));
  }

  /** Types a command and waits for a line of its output matching pattern. */
  async run(command: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const tty = await this.tty();
    const seen = waitForOutput(tty, pattern, timeoutMs);
    tty.write(`${command}\n`);
    return seen;
  }

  async status(): Promise<string> {
    return (await this.qmp.execute<{ status: string }>('query-status')).status;
  }

  async stop(): Promise<void> {
    this.console?.destroy();
    this.qmp?.close();
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
}
