import { execFile } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FailedPrecondition, Internal } from '../../errors';
import { runQemuImg } from './qemu-img-progress';

const run = promisify(execFile);

/** An encrypted image is opened with its key file; the key never leaves the file (QEMU's secret object reads it). */
export interface Key {
  readonly id: string;
  readonly file: string;
}

/**
 * The node's storage pool: one directory (--storage-dir) holding every
 * volume (`volumes/<id>.qcow2`) and snapshot (`snapshots/<id>.qcow2`) of this
 * node, qcow2 files made and changed with qemu-img. Every file is made under a
 * temporary name and renamed, so a crash never leaves one that looks finished.
 */
export class StoragePool {
  constructor(
    readonly dir: string,
    private readonly keys: Readonly<Record<string, string>>,
    private readonly qemuImg = 'qemu-img',
  ) {
    mkdirSync(path.join(dir, 'volumes'), { recursive: true });
    mkdirSync(path.join(dir, 'snapshots'), { recursive: true });
  }

  volumePath = (id: string) => path.join(this.dir, 'volumes', `${id}.qcow2`);
  snapshotPath = (id: string) => path.join(this.dir, 'snapshots', `${id}.qcow2`);

  /** The size the node offers as disk_bytes: the whole file system the pool is on. */
  async capacityBytes(): Promise<number> {
    const s = await statfs(this.dir);
    return Number(s.blocks) * Number(s.bsize);
  }

  keyIds(): string[] {
    return Object.keys(this.keys).sort();
  }

  /** The key file of an id, checked: it exists and only its owner can read it. */
  key(id: string): Key {
    const file = this.keys[id];
    if (!file) throw new FailedPrecondition(`no key ${id} on this node (agents load keys with --volume-key <id>=<file>)`);
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      throw new FailedPrecondition(`key ${id}: its file is missing on this node`);
    }
    if (mode & 0o077) throw new FailedPrecondition(`key ${id}: its file must be readable by its owner only (mode 0600)`);
    return { id, file };
  }

  async exists(p: string): Promise<boolean> {
    return stat(p).then(
      () => true,
      () => false,
    );
  }

  /** A blank volume (LUKS-encrypted inside qcow2 with the key when given). */
  async createBlank(id: string, sizeBytes: number, key?: Key): Promise<void> {
    await this.made(this.volumePath(id), (tmp) => this.img(['create', '-q', '-f', 'qcow2', ...encryptTarget(key), tmp, String(sizeBytes)]));
  }

  /** A full copy of `from` (a snapshot or a volume), grown to sizeBytes: it depends on nothing after. */
  async createCopy(id: string, from: string, sizeBytes: number, key?: Key, progress?: (p: number) => void): Promise<void> {
    await this.made(this.volumePath(id), async (tmp) => {
      await this.convert(from, tmp, key, progress);
      if ((await this.virtualSize(tmp, key)) < sizeBytes) await this.img(['resize', '-q', ...source(tmp, key), String(sizeBytes)]);
    });
  }

  /** A crash-consistent copy of a volume no QEMU holds. */
  async snapshotOffline(volumeId: string, snapshotId: string, key?: Key, progress?: (p: number) => void): Promise<void> {
    await this.made(this.snapshotPath(snapshotId), (tmp) => this.convert(this.volumePath(volumeId), tmp, key, progress));
  }

  /** A blank target for a live backup job, as large as the volume. */
  async snapshotTarget(volumeId: string, snapshotId: string, key?: Key): Promise<string> {
    const tmp = `${this.snapshotPath(snapshotId)}.partial`;
    await rm(tmp, { force: true });
    await this.img(['create', '-q', '-f', 'qcow2', ...encryptTarget(key), tmp, String(await this.virtualSize(this.volumePath(volumeId), key))]);
    return tmp;
  }

  async finishSnapshot(snapshotId: string): Promise<void> {
    await rename(`${this.snapshotPath(snapshotId)}.partial`, this.snapshotPath(snapshotId));
  }

  async resizeOffline(id: string, sizeBytes: number, key?: Key): Promise<void> {
    await this.img(['resize', '-q', ...source(this.volumePath(id), key), String(sizeBytes)]);
  }

  async virtualSize(file: string, key?: Key): Promise<number> {
    const out = JSON.parse(await this.img(['info', '-U', '--output=json', ...(key ? ['--object', secretArg(key), '--image-opts', imageOpts(file, key)] : [file])]));
    return out['virtual-size'];
  }

  async remove(file: string): Promise<void> {
    await rm(file, { force: true });
    await rm(`${file}.partial`, { force: true });
  }

  private async convert(from: string, to: string, key: Key | undefined, progress?: (p: number) => void): Promise<void> {
    // -U: the source may be open in a running QEMU; -p: progress on stdout as "(12.50/100%)".
    const args = ['convert', '-U', '-p', ...(key ? ['--object', secretArg(key), '--image-opts', imageOpts(from, key)] : [from]), '-O', 'qcow2', ...encryptOptions(key), to];
    for (let attempt = 1; ; attempt++) {
      try {
        return await runQemuImg(this.qemuImg, args, progress);
      } catch (e) {
        if (!(attempt < PBKDF_TRIES && isPbkdfCalibrationGlitch((e as Error).message))) throw e;
      }
    }
  }

  private async made(final: string, make: (tmp: string) => Promise<unknown>): Promise<void> {
    if (await this.exists(final)) return;
    const tmp = `${final}.partial`;
    await rm(tmp, { force: true });
    try {
      await make(tmp);
      await rename(tmp, final);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async img(args: string[]): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await run(this.qemuImg, args, { maxBuffer: 4 << 20 })).stdout;
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string };
        if (err.code === 'ENOENT') throw new FailedPrecondition(`${this.qemuImg} is not installed (Debian package qemu-utils)`);
        if (attempt < PBKDF_TRIES && isPbkdfCalibrationGlitch(err.stderr ?? '')) continue;
        // The message names files and options, never a key: keys are only ever file names here.
        throw new Internal(`qemu-img ${args[0]}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
      }
    }
  }
}

/**
 * QEMU calibrates a LUKS key's PBKDF2 iterations on the thread's CPU time in
 * whole milliseconds, and gives up when one round reads 0 ms, which the
 * kernel's tick-based accounting yields now and then on a loaded host (seen
 * on CI). Nothing was written then, and the same command again succeeds.
 */
export const isPbkdfCalibrationGlitch = (stderr: string): boolean => stderr.includes('Unable to get accurate CPU usage');
const PBKDF_TRIES = 5;

const SECRET = 'hvkey';
const secretArg = (k: Key) => `secret,id=${SECRET},file=${k.file},format=raw`;
const imageOpts = (file: string, _k: Key) => `driver=qcow2,file.filename=${file.replace(/,/g, ',,')},encrypt.key-secret=${SECRET}`;
// iter-time: how long deriving the LUKS key takes. QEMU opens the volume in its main loop, so a long
// derivation (the default is 2 s) stalls its monitor long enough to look dead; 250 ms keeps it answering.
const encryptOptions = (k?: Key) => (k ? ['-o', `encrypt.format=luks,encrypt.key-secret=${SECRET},encrypt.iter-time=250`] : []);
const encryptTarget = (k?: Key) => (k ? ['--object', secretArg(k), ...encryptOptions(k)] : []);
const source = (file: string, k?: Key) => (k ? ['--object', secretArg(k), '--image-opts', imageOpts(file, k)] : [file]);
