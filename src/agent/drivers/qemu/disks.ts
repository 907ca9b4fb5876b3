import { execFile } from 'node:child_process';
import { rename, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { FailedPrecondition, Internal, InvalidArgument, NotFound } from '../../../errors';

const run = promisify(execFile);

export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFile?: string;
}

async function qemuImg(bin: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new FailedPrecondition(`${bin} is not installed (Debian package qemu-utils)`);
    throw new Internal(`${bin} ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

export async function imageInfo(bin: string, file: string): Promise<ImageInfo> {
  // -U: the image may be open in a running QEMU, which holds a write lock on it.
  const out = JSON.parse(await qemuImg(bin, ['info', '-U', '--output=json', file]));
  return { format: out.format, virtualSize: out['virtual-size'], backingFile: out['backing-filename'] };
}

export interface DiskPlan {
  path: string;
  sizeBytes: number;
  basePath?: string;
  baseFormat?: 'raw' | 'qcow2';
}

/**
 * A qcow2 overlay on the base (the base is never written), or a blank qcow2. Idempotent:
 * an existing disk is left as it is (it holds the guest's writes). Made under a temporary
 * name and renamed, so a crash never leaves a half-made disk that looks finished.
 */
export async function ensureDisk(bin: string, d: DiskPlan): Promise<void> {
  if (await exists(d.path)) return;
  if (!Number.isInteger(d.sizeBytes) || d.sizeBytes < 0) throw new InvalidArgument(`disk size must be a whole number of bytes, got ${d.sizeBytes}`);
  const tmp = `${d.path}.partial`;
  await rm(tmp, { force: true });
  try {
    if (d.basePath) {
      if (!(await exists(d.basePath))) throw new NotFound(`base image ${d.basePath} does not exist`);
      const base = await imageInfo(bin, d.basePath);
      const format = d.baseFormat ?? base.format;
      if (format !== 'raw' && format !== 'qcow2') throw new InvalidArgument(`base image ${d.basePath} is ${format}; raw or qcow2 only`);
      if (d.sizeBytes !== 0 && d.sizeBytes < base.virtualSize) {
        throw new InvalidArgument(`disk of ${d.sizeBytes} bytes is smaller than its base ${d.basePath} (${base.virtualSize} bytes)`);
      }
      const size = d.sizeBytes === 0 ? base.virtualSize : d.sizeBytes;
      await qemuImg(bin, ['create', '-q', '-f', 'qcow2', '-b', d.basePath, '-F', format, tmp, String(size)]);
    } else {
      if (d.sizeBytes === 0) throw new InvalidArgument('a disk without a base image needs sizeBytes');
      await qemuImg(bin, ['create', '-q', '-f', 'qcow2', tmp, String(d.sizeBytes)]);
    }
    await rename(tmp, d.path);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
