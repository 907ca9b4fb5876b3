import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Accel } from './args';
import { cpioNewc } from './cpio';
import { endsWithThisProcess } from '../../../shared/owned-children';

export type AccelSetting = 'auto' | Accel;

export interface AccelChoice {
  accel: Accel;
  /**
   * Why this one, starting with a short code: `configured`, `kvm-ok`, `kvm-failed`,
   * `kvm-unavailable` or `kvm-untested`. Logged, and shown as the node's Accelerator condition.
   */
  reason: string;
}

export type ProbeOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/** What the probe's init prints on the serial console once the kernel has run it. */
export const PROBE_MARKER = 'HV-ACCEL-PROBE-OK';

/** The value isa-debug-exit turns 0x2a into: (0x2a << 1) | 1. */
export const TINY_GUEST_EXIT_CODE = 85;

/** The setting that makes an agent use TCG, as an operator types it. */
export const TCG_SETTING = '--accel tcg (HV_QEMU_ACCEL=tcg)';

export interface AccelProbeOptions {
  qemuBinary: string;
  /** Default /dev/kvm. */
  kvmDevice?: string;
  /** The kernel to boot; default the newest /boot/vmlinuz-* (the setup installs linux-image-cloud-amd64). */
  kernel?: string;
  /** A static busybox for the probe's init; default /bin/busybox (busybox-static). */
  busybox?: string;
  firmwareTimeoutMs?: number;
  /** How long the kernel gets to print the marker. */
  bootTimeoutMs?: number;
}

/**
 * A 64 KiB firmware image whose reset vector writes 0x2a to the isa-debug-exit port,
 * so QEMU exits with TINY_GUEST_EXIT_CODE once a vCPU has really executed guest code.
 */
export function tinyFirmware(): Buffer {
  const rom = Buffer.alloc(64 * 1024, 0xf4); // hlt everywhere
  // mov al,0x2a; out 0xf4,al; hlt; jmp $-1
  Buffer.from([0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(rom, 0xfff0);
  return rom;
}

/** An initramfs whose init prints PROBE_MARKER on the console and powers off. */
export function probeInitramfs(busybox: Buffer): Buffer {
  const init = `#!/bin/busybox sh\n/bin/busybox echo ${PROBE_MARKER}\n/bin/busybox poweroff -f\n`;
  return cpioNewc([
    { kind: 'dir', path: 'bin' },
    { kind: 'dir', path: 'dev' },
    // The kernel opens /dev/console for init's stdio; without the node init has none.
    { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { kind: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
  ]);
}

/** The newest kernel under /boot, cloud kernels first; undefined when there is none. */
export async function defaultProbeKernel(boot = '/boot'): Promise<string | undefined> {
  const names = (await readdir(boot).catch(() => [] as string[])).filter((n) => n.startsWith('vmlinuz-'));
  const byVersion = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });
  const cloud = names.filter((n) => n.endsWith('-cloud-amd64')).sort(byVersion);
  const pick = cloud.at(-1) ?? names.sort(byVersion).at(-1);
  return pick && path.join(boot, pick);
}

interface QemuRun {
  args: string[];
  timeoutMs: number;
  /** Decides from the output so far: a result ends the run (QEMU is killed). */
  watch?: (stdout: string, stderr: string) => ProbeOutcome | undefined;
  /** Decides from the exit code when watch did not. */
  onExit: (code: number | null, how: string, stderr: string) => ProbeOutcome;
  onTimeout: () => string;
}

/** Runs QEMU once and never leaves it behind: every way out kills it. */
function runQemu(qemuBinary: string, r: QemuRun): Promise<ProbeOutcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const child = endsWithThisProcess(spawn(qemuBinary, r.args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const finish = (o: ProbeOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(o.ok ? { ok: true, ms: Date.now() - t0 } : o);
    };
    const look = () => {
      const o = r.watch?.(stdout, stderr);
      if (o) finish(o);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout = (stdout + d).slice(-8000)), look()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr = (stderr + d).slice(-8000)), look()));
    const timer = setTimeout(() => finish({ ok: false, reason: r.onTimeout() }), r.timeoutMs);
    child.on('error', (e) => finish({ ok: false, reason: `cannot run ${qemuBinary}: ${e.message}` }));
    child.on('close', (code, sig) => finish(r.onExit(code, sig ? `was killed by ${sig}` : `exited with code ${code}`, stderr)));
  });
}

const lastLine = (s: string) => s.trim().split('\n').at(-1)?.trim() ?? '';

/** QEMU's KVM failure report, in one line: "KVM internal error. Suberror: 1 … emulation failure". */
export function kvmInternalError(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim());
  const i = lines.findIndex((l) => /KVM internal error/i.test(l));
  if (i < 0) return undefined;
  const what = lines.slice(i + 1).find((l) => /emulation failure|failure|error/i.test(l) && !/^extra data/.test(l));
  return what ? `${lines[i]} … ${what}` : lines[i];
}

/** Runs the tiny firmware: proves the accelerator executes guest code at all. */
export async function runTinyGuest(qemuBinary: string, accel: Accel, timeoutMs: number): Promise<ProbeOutcome> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-accel-'));
  try {
    const bios = path.join(dir, 'bios.bin');
    await writeFile(bios, tinyFirmware());
    return await runQemu(qemuBinary, {
      args: ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'q35', '-accel', accel, '-m', '16M', '-bios', bios, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
      timeoutMs,
      onExit: (code, how, stderr) =>
        code === TINY_GUEST_EXIT_CODE ? { ok: true, ms: 0 } : { ok: false, reason: `qemu running the ${accel} test firmware ${how}: ${kvmInternalError(stderr) ?? lastLine(stderr)}` },
      onTimeout: () => `a ${accel} guest ran no code within ${timeoutMs} ms`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Boots a Linux kernel with an initramfs that prints PROBE_MARKER, the way instances
 * boot (q35, -cpu host under KVM). A kvm-pvm /dev/kvm runs the tiny firmware and still
 * fails here (KVM internal error at `lock cmpxchg16b`), so only this counts as "KVM works".
 */
export async function runKernelProbe(o: AccelProbeOptions & { accel: Accel; kernel: string }): Promise<ProbeOutcome> {
  const busybox = await readFile(o.busybox ?? '/bin/busybox').catch((e: Error) => e);
  if (busybox instanceof Error) return { ok: false, reason: `no busybox for the probe's init (Debian package busybox-static): ${busybox.message}` };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-accel-'));
  const timeoutMs = o.bootTimeoutMs ?? 30_000;
  try {
    const initrd = path.join(dir, 'probe.cpio');
    await writeFile(initrd, probeInitramfs(busybox));
    return await runQemu(o.qemuBinary, {
      args: [
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
        '-machine', 'q35', '-accel', o.accel, ...(o.accel === 'kvm' ? ['-cpu', 'host'] : []), '-smp', '1', '-m', '128M',
        '-kernel', o.kernel, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 quiet rdinit=/init',
        '-serial', 'stdio',
      ],
      timeoutMs,
      watch: (stdout, stderr) => {
        if (stdout.includes(PROBE_MARKER)) return { ok: true, ms: 0 };
        const internal = kvmInternalError(stderr);
        // The report spans several lines: wait for the line after the header.
        if (internal && internal.includes('…')) return { ok: false, reason: internal };
        return undefined;
      },
      onExit: (_code, how, stderr) => ({ ok: false, reason: `qemu ${how} before the kernel printed to its console: ${kvmInternalError(stderr) ?? lastLine(stderr)}` }),
      onTimeout: () => `a ${o.accel} guest printed nothing on its console within ${timeoutMs} ms (kernel ${path.basename(o.kernel)})`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether KVM runs what instances run: /dev/kvm opens, runs code, and boots Linux to its console. */
export async function probeKvm(o: AccelProbeOptions): Promise<{ ok: true; reason: string } | { ok: false; code: 'kvm-unavailable' | 'kvm-failed' | 'kvm-untested'; reason: string }> {
  const dev = o.kvmDevice ?? '/dev/kvm';
  try {
    await access(dev, constants.R_OK | constants.W_OK);
    await (await open(dev, 'r+')).close();
  } catch (e) {
    return { ok: false, code: 'kvm-unavailable', reason: `${dev} is not usable: ${(e as Error).message}` };
  }
  const fw = await runTinyGuest(o.qemuBinary, 'kvm', o.firmwareTimeoutMs ?? 5_000);
  if (!fw.ok) return { ok: false, code: 'kvm-failed', reason: fw.reason };
  const kernel = o.kernel ?? (await defaultProbeKernel());
  if (!kernel) return { ok: false, code: 'kvm-untested', reason: 'no kernel under /boot to boot (Debian package linux-image-cloud-amd64)' };
  const boot = await runKernelProbe({ ...o, accel: 'kvm', kernel });
  if (!boot.ok) return { ok: false, code: 'kvm-failed', reason: boot.reason };
  return { ok: true, reason: `booted ${path.basename(kernel)} to its console in ${boot.ms} ms` };
}

/** 'auto' = KVM if it boots Linux, TCG otherwise. An explicit setting is taken as is. */
export async function chooseAccel(setting: AccelSetting, o: AccelProbeOptions): Promise<AccelChoice> {
  if (setting !== 'auto') return { accel: setting, reason: `configured: --accel ${setting}` };
  const kvm = await probeKvm(o);
  return kvm.ok ? { accel: 'kvm', reason: `kvm-ok: ${kvm.reason}` } : { accel: 'tcg', reason: `${kvm.code}: ${kvm.reason}` };
}

/**
 * The host's TSC rate in kHz, which is also a TCG guest's (see kernelCmdline in args.ts).
 * "cpu MHz" is the current clock, close to the TSC rate on constant-TSC CPUs; a small
 * error only makes the guest clock drift, which matters little for TCG guests.
 */
export async function hostTscKhz(): Promise<number | undefined> {
  try {
    const khz = Number((await readFile('/sys/devices/system/cpu/cpu0/tsc_freq_khz', 'utf8')).trim());
    if (khz > 0) return khz;
  } catch {
    // not exposed by most kernels
  }
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(await readFile('/proc/cpuinfo', 'utf8'));
    if (m && Number(m[1]) > 0) return Math.round(Number(m[1]) * 1000);
  } catch {
    // not Linux: the caller goes without
  }
  return undefined;
}
