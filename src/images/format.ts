import type { ImageFormat } from '../commands/instance/spec';

/**
 * What an image is, from its first bytes: a qcow2 disk, a Linux kernel
 * (bzImage), a compressed or plain cpio initrd, or else a raw disk.
 */
export const sniffFormat = (head: Uint8Array): ImageFormat => {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const at = (off: number, sig: number[]) => sig.every((v, i) => b[off + i] === v);
  if (at(0, [0x51, 0x46, 0x49, 0xfb])) return 'qcow2';
  if (b.length >= 0x206 && b.toString('latin1', 0x202, 0x206) === 'HdrS') return 'kernel';
  if (
    at(0, [0x1f, 0x8b]) || // gzip
    at(0, [0x28, 0xb5, 0x2f, 0xfd]) || // zstd
    at(0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) || // xz
    at(0, [0x02, 0x21, 0x4c, 0x18]) || // lz4 legacy
    b.toString('latin1', 0, 5) === '07070' // cpio newc/crc
  )
    return 'initrd';
  return 'raw';
};

/** Bytes needed to tell the formats apart. */
export const SNIFF_BYTES = 4096;
