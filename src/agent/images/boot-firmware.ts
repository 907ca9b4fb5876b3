import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Firmware } from '../../domain/guest-annotations';

const run = promisify(execFile);
const SECTOR = 512;
/** The protective MBR, the GPT header and 128 entries of 128 bytes (LBA 2–33), with room for a header that puts them a little later. */
export const PROBE_SECTORS = 64;
// EFI System Partition, C12A7328-F81F-11D2-BA4B-00A0C93EC93B, as GPT stores it (the first three fields little-endian).
const ESP_GUID = Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex');
const MBR_ESP = 0xef;
const MBR_PROTECTIVE = 0xee;

/**
 * The firmware a disk image needs, from its partition table as OpenStack's
 * `hw_firmware_type` would be guessed: an EFI system partition (GPT, or type 0xef
 * in an MBR) means UEFI; anything else, or no table, BIOS. A hybrid image (a
 * BIOS boot partition and an ESP, as Debian's and Ubuntu's cloud images have)
 * boots either way and gets UEFI. Pure: `head` is the image's first sectors.
 */
export const firmwareFromPartitionTable = (head: Buffer): Firmware => {
  if (head.length < SECTOR || head.readUInt16LE(510) !== 0xaa55) return 'bios';
  const types = [0, 1, 2, 3].map((i) => head[446 + 16 * i + 4]);
  if (types.includes(MBR_ESP)) return 'uefi';
  if (!types.includes(MBR_PROTECTIVE) || head.length < 2 * SECTOR) return 'bios';
  const gpt = head.subarray(SECTOR, 2 * SECTOR);
  if (gpt.toString('latin1', 0, 8) !== 'EFI PART') return 'bios';
  const entriesLba = Number(gpt.readBigUInt64LE(72));
  const count = gpt.readUInt32LE(80);
  const size = gpt.readUInt32LE(84);
  if (size < 128) return 'bios';
  for (let i = 0; i < count; i++) {
    const at = entriesLba * SECTOR + i * size;
    if (at + 16 > head.length) break;
    if (head.subarray(at, at + 16).equals(ESP_GUID)) return 'uefi';
  }
  return 'bios';
};

/** The image's first sectors through qemu-img (a qcow2's are not its file's), then the table read. */
export async function probeFirmware(qemuImg: string, image: string, format: 'raw' | 'qcow2'): Promise<Firmware> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-fw-'));
  try {
    const out = path.join(dir, 'head');
    await run(qemuImg, ['dd', '-f', format, '-O', 'raw', `bs=${SECTOR}`, `count=${PROBE_SECTORS}`, `if=${image}`, `of=${out}`]);
    return firmwareFromPartitionTable(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
