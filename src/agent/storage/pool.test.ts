import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPbkdfCalibrationGlitch, StoragePool } from './pool';

describe("the storage pool's qemu-img calls", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-pool-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("knows QEMU's PBKDF2 calibration failure, and nothing else, as one to try again", () => {
    assert.equal(isPbkdfCalibrationGlitch("qemu-img: /x.qcow2.partial: Unable to get accurate CPU usage\n"), true);
    assert.equal(isPbkdfCalibrationGlitch('qemu-img: /x.qcow2: Could not open: No such file or directory'), false);
  });

  it('makes an encrypted volume when the first qemu-img create fails its calibration (real qemu-img, after a wrapper fails it once)', async function () {
    // Each LUKS key slot is calibrated to 2 s of PBKDF2 on this CPU, four of them here: on a loaded machine, many more seconds.
    this.timeout(120_000);
    // The wrapper fails the first call as QEMU does, then runs the real qemu-img.
    const failed = path.join(dir, 'failed-once');
    const wrapper = path.join(dir, 'qemu-img');
    writeFileSync(wrapper, `#!/bin/sh\nif [ ! -e ${failed} ]; then touch ${failed}; echo "qemu-img: $1: Unable to get accurate CPU usage" >&2; exit 1; fi\nexec qemu-img "$@"\n`);
    chmodSync(wrapper, 0o755);
    const keyFile = path.join(dir, 'k1.key');
    writeFileSync(keyFile, 'a passphrase\n', { mode: 0o600 });
    const pool = new StoragePool(path.join(dir, 'pool'), { k1: keyFile }, wrapper);
    await pool.createBlank('v1', 1 << 20, { id: 'k1', file: keyFile });
    assert.ok(existsSync(failed), 'the first call failed');
    assert.equal(readFileSync(pool.volumePath('v1')).subarray(0, 4).toString('latin1'), 'QFI\xfb', 'a qcow2 file was made');
    // A copy of it is converted into a new encrypted file, which calibrates again: failed once, then made.
    rmSync(failed);
    await pool.createCopy('v2', pool.volumePath('v1'), 1 << 20, { id: 'k1', file: keyFile });
    assert.ok(existsSync(failed), 'the first convert failed');
    assert.equal(await pool.virtualSize(pool.volumePath('v2'), { id: 'k1', file: keyFile }), 1 << 20);
  });
});
