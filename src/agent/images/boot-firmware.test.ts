import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firmwareFromPartitionTable, probeFirmware, PROBE_SECTORS } from './boot-firmware';

const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const BIOS_BOOT = '21686148-6449-6E6F-744E-656564454649';

describe('boot firmware from the partition table', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-fw-test-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Real tables, written by sfdisk (util-linux) into image files, read back through qemu-img.
  const image = (name: string, script: string, format: 'raw' | 'qcow2' = 'raw'): string => {
    const raw = path.join(dir, `${name}.raw`);
    execFileSync('truncate', ['-s', '64M', raw]);
    if (script) execFileSync('sfdisk', ['-q', raw], { input: script });
    if (format === 'raw') return raw;
    const q = path.join(dir, `${name}.qcow2`);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, q]);
    return q;
  };

  for (const [what, script, format, want] of [
    ['a GPT with an EFI system partition (qcow2)', `label: gpt\nsize=16MiB, type=${ESP}\ntype=${LINUX}\n`, 'qcow2', 'uefi'],
    ['a hybrid GPT: BIOS boot partition and an ESP, as Debian cloud images are', `label: gpt\nsize=1MiB, type=${BIOS_BOOT}\nsize=16MiB, type=${ESP}\ntype=${LINUX}\n`, 'raw', 'uefi'],
    ['a GPT with no ESP', `label: gpt\nsize=1MiB, type=${BIOS_BOOT}\ntype=${LINUX}\n`, 'qcow2', 'bios'],
    ['an MBR with a type ef partition', 'label: dos\nsize=16MiB, type=ef, bootable\ntype=83\n', 'qcow2', 'uefi'],
    ['an MBR with Linux partitions only', 'label: dos\ntype=83, bootable\n', 'raw', 'bios'],
    ['no partition table (a bare file system or blank disk)', '', 'qcow2', 'bios'],
  ] as const)
    it(`reads ${what} as ${want}`, async () => assert.equal(await probeFirmware('qemu-img', image(what.replace(/\W+/g, '-'), script, format), format), want));

  it('reads a GPT whose entries start later than LBA 2, and ignores a short or foreign header', () => {
    const head = Buffer.alloc(PROBE_SECTORS * 512);
    head.writeUInt16LE(0xaa55, 510);
    head[446 + 4] = 0xee;
    head.write('EFI PART', 512, 'latin1');
    head.writeBigUInt64LE(10n, 512 + 72);
    head.writeUInt32LE(4, 512 + 80);
    head.writeUInt32LE(128, 512 + 84);
    Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex').copy(head, 10 * 512 + 3 * 128);
    assert.equal(firmwareFromPartitionTable(head), 'uefi');
    assert.equal(firmwareFromPartitionTable(head.subarray(0, 1024)), 'bios', 'entries beyond what was read');
    const foreign = Buffer.from(head);
    foreign.write('NOT PART', 512, 'latin1');
    assert.equal(firmwareFromPartitionTable(foreign), 'bios');
    assert.equal(firmwareFromPartitionTable(Buffer.alloc(100)), 'bios');
  });
});
