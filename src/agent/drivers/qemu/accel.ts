import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Accel } from './args';

export type AccelSetting = 'auto' | Accel;

export interface AccelChoice {
  accel: Accel;
  /** Why this one: shown in logs and in probe results. */
  reason: string;
}

/** The value isa-debug-exit turns 0x2a into: (0x2a << 1) | 1. */
export const TINY_GUEST_EXIT_CODE = 85;

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

/**
 * Runs the tiny firmware under the given accelerator. /dev/kvm can exist and open and
 * still not run guests (on the machine this was written on, a KVM guest hangs), so only
 * executed guest code counts as "works".
 */
export async function runTinyGuest(qemuBinary: string, accel: Accel, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-accel-'));
  try {
    const bios = path.join(dir, 'bios.bin');
    await writeFile(bios, tinyFirmware());
    const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'q35', '-accel', accel, '-m', '16M', '-bios', bios, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
    return await new Promise((resolve) => {
      let stderr = '';
      const child = spawn(qemuBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ ok: false, reason: `a ${accel} guest did not run within ${timeoutMs} ms` });
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ ok: false, reason: `cannot run ${qemuBinary}: ${e.message}` });
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === TINY_GUEST_EXIT_CODE) resolve({ ok: true });
        else resolve({ ok: false, reason: `${accel} test guest exited with ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}` });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function probeKvm(qemuBinary: string, timeoutMs = 5_000): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    await (await open('/dev/kvm', 'r+')).close();
  } catch (e) {
    return { ok: false, reason: `/dev/kvm is not usable: ${(e as Error).message}` };
  }
  return runTinyGuest(qemuBinary, 'kvm', timeoutMs);
}

/** 'auto' = KVM if it runs a guest, TCG otherwise. An explicit setting is taken as is. */
export async function chooseAccel(setting: AccelSetting, qemuBinary: string): Promise<AccelChoice> {
  if (setting !== 'auto') return { accel: setting, reason: 'configured' };
  const kvm = await probeKvm(qemuBinary);
  return kvm.ok ? { accel: 'kvm', reason: 'KVM runs guests' } : { accel: 'tcg', reason: `falling back to TCG: ${kvm.reason}` };
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
