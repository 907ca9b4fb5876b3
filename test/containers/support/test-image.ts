import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = (bin: string, args: string[]) => execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export interface TestImage {
  /** OCI layout dir holding the image under `tag`. */
  readonly layout: string;
  readonly tag: string;
  remove(): void;
}

/**
 * The test image, built here from Debian's busybox-static: one layer with
 * /bin/busybox and a symlink per applet, a config that runs /bin/sh with PATH
 * and a variable of its own (so a test can see the spec override it). Tag
 * `layered` adds a second layer with a whiteout.
 */
export const buildTestImage = (): TestImage => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-test-image-'));
  const layout = path.join(dir, 'layout');
  const tag = 'busybox';
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:${tag}`]);
  const bundle = path.join(dir, 'bundle');
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  const root = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'data']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync('/usr/bin/busybox', path.join(root, 'bin', 'busybox'));
  for (const applet of run('/usr/bin/busybox', ['--list']).split('\n').filter(Boolean))
    if (applet !== 'busybox') symlinkSync('busybox', path.join(root, 'bin', applet));
  writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(path.join(root, 'etc', 'hv-first-layer'), 'the second layer removes this file\n');
  run('umoci', ['repack', '--image', `${layout}:${tag}`, bundle]);
  run('umoci', ['config', '--image', `${layout}:${tag}`, '--config.cmd', '/bin/sh', '--config.env', 'PATH=/bin', '--config.env', 'HV_FROM_IMAGE=image', '--config.workingdir', '/']);
  rmSync(bundle, { recursive: true, force: true });
  // Tag `layered`: a second layer that deletes a file of the first (a whiteout) and adds one.
  run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
  rmSync(path.join(bundle, 'rootfs', 'etc', 'hv-first-layer'));
  writeFileSync(path.join(bundle, 'rootfs', 'etc', 'hv-second-layer'), 'added by the second layer\n');
  run('umoci', ['repack', '--image', `${layout}:layered`, bundle]);
  rmSync(bundle, { recursive: true, force: true });
  return { layout, tag, remove: () => rmSync(dir, { recursive: true, force: true }) };
};
