/** One entry of a newc ("070701") cpio archive, the format the Linux kernel unpacks as an initramfs. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

const TYPE = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;
const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);

/** A newc archive of the entries, with its trailer. Pure; the kernel needs no compression. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const add = (ino: number, mode: number, data: Buffer, name: string, rdev: [number, number] = [0, 0]) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0];
    const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
    parts.push(header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length));
  };
  entries.forEach((e, i) => {
    const name = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        return add(i + 1, TYPE.dir | (e.mode ?? 0o755), Buffer.alloc(0), name);
      case 'file':
        return add(i + 1, TYPE.file | (e.mode ?? 0o644), e.data, name);
      case 'char':
        return add(i + 1, TYPE.char | (e.mode ?? 0o600), Buffer.alloc(0), name, [e.major, e.minor]);
    }
  });
  add(0, 0, Buffer.alloc(0), 'TRAILER!!!');
  return Buffer.concat(parts);
}
