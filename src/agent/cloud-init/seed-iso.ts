import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FailedPrecondition, Internal } from '../../errors';
import type { NoCloudSeed } from './nocloud';

const run = promisify(execFile);

/**
 * Writes the seed as cloud-init's NoCloud wants it: an ISO9660 volume labelled
 * `cidata` with meta-data, user-data and (when given) network-config and
 * vendor-data at its root, made by genisoimage (Debian's, as cloud-localds does)
 * with Rock Ridge and Joliet names. The files and the ISO are the user's secrets:
 * written 0600 in a 0700 directory next to `out`, the loose files removed at once,
 * the ISO renamed into place whole. Same seed again = the file is left as it is.
 */
export async function writeSeedIso(out: string, seed: NoCloudSeed, opts: { genisoimage?: string } = {}): Promise<void> {
  if (await stat(out).then(() => true, () => false)) return;
  const work = await mkdtemp(path.join(path.dirname(out), '.seed-'));
  try {
    const files: [string, string | undefined][] = [
      ['meta-data', seed.metaData],
      ['user-data', seed.userData],
      ['network-config', seed.networkConfig],
      ['vendor-data', seed.vendorData],
    ];
    const names: string[] = [];
    for (const [name, body] of files) {
      if (body === undefined) continue;
      await writeFile(path.join(work, name), body, { mode: 0o600 });
      names.push(path.join(work, name));
    }
    const tmp = path.join(work, 'seed.iso');
    const bin = opts.genisoimage ?? 'genisoimage';
    try {
      await run(bin, ['-quiet', '-output', tmp, '-volid', 'cidata', '-joliet', '-rock', ...names]);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new FailedPrecondition(`${bin} is not installed (Debian package genisoimage): it makes the guest's NoCloud seed`);
      throw new Internal(`${bin}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
    }
    await chmod(tmp, 0o600);
    await rename(tmp, out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
