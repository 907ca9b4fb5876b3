import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseAccel, defaultProbeKernel, PROBE_MARKER, runKernelProbe } from '../../src/agent/drivers/qemu/accel';
import { QemuDriver } from '../../src/agent/drivers/qemu/qemu-driver';

/** Live processes whose command line names `file`. */
const processesRunning = (file: string): number[] =>
  readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(file);
      } catch {
        return false;
      }
    })
    .map(Number);

/**
 * A stand-in for qemu-system-x86_64 whose KVM runs the tiny firmware (exits as
 * isa-debug-exit makes QEMU exit) but, given a kernel, behaves as `kernelBehaviour` says:
 * what a nested kvm-pvm /dev/kvm does.
 */
const fakeQemu = (dir: string, kernelBehaviour: string): string => {
  const bin = path.join(dir, 'fake-qemu');
  writeFileSync(
    bin,
    `#!/bin/sh
case " $* " in
  *" -bios "*) exit 85 ;;
  *" -kernel "*) ${kernelBehaviour} ;;
esac
exit 1
`,
  );
  chmodSync(bin, 0o755);
  return bin;
};

describe('accelerator probe: auto chooses KVM only when KVM boots Linux', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-accel-test-'));
  // Any readable and writable file stands in for /dev/kvm, so the test never depends on this host's.
  const kvmDevice = path.join(dir, 'kvm');
  writeFileSync(kvmDevice, '');
  const kernel = path.join(dir, 'vmlinuz');
  writeFileSync(kernel, 'not a kernel: the fake QEMU never reads it');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('chooses TCG when KVM runs the tiny firmware but the kernel never prints the marker', async () => {
    const qemuBinary = fakeQemu(dir, 'exec sleep 60');
    const choice = await chooseAccel('auto', { qemuBinary, kvmDevice, kernel, bootTimeoutMs: 1_500 });
    assert.equal(choice.accel, 'tcg');
    assert.match(choice.reason, /^kvm-failed: a kvm guest printed nothing on its console within 1500 ms/);
    assert.deepEqual(processesRunning(qemuBinary), [], 'the probe left no process behind');
  });

  it('chooses TCG at once when KVM reports an internal error, and names it', async () => {
    const qemuBinary = fakeQemu(dir, `printf 'KVM internal error. Suberror: 1\\nextra data[0]: 0x0\\nemulation failure\\n' >&2; exec sleep 60`);
    const t0 = Date.now();
    const choice = await chooseAccel('auto', { qemuBinary, kvmDevice, kernel, bootTimeoutMs: 30_000 });
    assert.deepEqual(choice, { accel: 'tcg', reason: 'kvm-failed: KVM internal error. Suberror: 1 … emulation failure' });
    assert.ok(Date.now() - t0 < 30_000, 'decided from the error, not the deadline');
  });

  it('chooses KVM when the kernel prints the marker', async () => {
    const qemuBinary = fakeQemu(dir, `echo ${PROBE_MARKER}; exec sleep 60`);
    const choice = await chooseAccel('auto', { qemuBinary, kvmDevice, kernel });
    assert.equal(choice.accel, 'kvm');
    assert.match(choice.reason, /^kvm-ok: booted vmlinuz/);
  });

  it('chooses TCG when there is no usable /dev/kvm', async () => {
    const choice = await chooseAccel('auto', { qemuBinary: fakeQemu(dir, 'exit 1'), kvmDevice: path.join(dir, 'absent'), kernel });
    assert.equal(choice.accel, 'tcg');
    assert.match(choice.reason, /^kvm-unavailable: .*absent is not usable/);
  });

  it('takes an explicit setting as it is, without probing', async () => {
    assert.deepEqual(await chooseAccel('tcg', { qemuBinary: '/nonexistent' }), { accel: 'tcg', reason: 'configured: --accel tcg' });
  });

  it('the driver shows its choice as the Accelerator condition', async () => {
    const d = new QemuDriver({ stateDir: path.join(dir, 'state'), qemuBinary: fakeQemu(dir, 'exec sleep 60'), accelProbe: { kvmDevice, kernel, bootTimeoutMs: 1_000 } });
    const [c] = await d.conditions();
    assert.equal(c.type, 'Accelerator');
    assert.equal(c.status, 'tcg');
    assert.match(c.reason, /^kvm-failed: /);
    await d.close();
  });

  describe('against real QEMU', () => {
    it('the probe kernel (the one the setup installs) boots to the marker under TCG', async () => {
      const k = await defaultProbeKernel();
      assert.ok(k, 'a kernel under /boot (linux-image-cloud-amd64)');
      const r = await runKernelProbe({ qemuBinary: 'qemu-system-x86_64', accel: 'tcg', kernel: k, bootTimeoutMs: 45_000 });
      assert.equal(r.ok, true, JSON.stringify(r));
    });

    it('auto gives a choice with its reason, whatever this host\'s KVM does', async () => {
      const c = await chooseAccel('auto', { qemuBinary: 'qemu-system-x86_64' });
      if (c.accel === 'kvm') assert.match(c.reason, /^kvm-ok: booted /);
      else assert.match(c.reason, /^kvm-(failed|unavailable|untested): \S/);
    });
  });
});
