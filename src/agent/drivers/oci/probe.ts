import { readFile } from 'node:fs/promises';
import { runTool } from '../../../images/oci/run-tool';
import type { ProbeResult } from '../driver';
import type { OciSpec } from './bundle';
import type { CgroupLayout } from './cgroups';
import type { Runc } from './runc';
import { SHIM_SCRIPT } from './shim';

export interface ProbeDeps {
  runc: Runc;
  /** Runs the console shim. */
  python: string;
  cgroups: () => CgroupLayout;
  /** runc's default spec, which every container's config starts from. */
  baseSpec: () => Promise<OciSpec>;
}

/**
 * Whether this host runs containers: runc, a python for the console shim,
 * skopeo and umoci for images, overlayfs, and cgroups with the cpu and memory
 * controllers. The first thing missing is the reason (Debian's package named).
 */
export async function probeHost(d: ProbeDeps): Promise<ProbeResult> {
  try {
    await d.runc.version();
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const py = await runTool(d.python, ['-c', 'import socket,sys; socket.recv_fds; sys.exit(0 if sys.version_info >= (3, 9) else 1)']).catch((e: Error) => ({ code: -1, stderr: e.message }));
  if (py.code !== 0) return { ok: false, reason: `${d.python} (3.9 or newer, Debian package python3) runs the console shim and does not work: ${py.stderr.trim()}` };
  if (!SHIM_SCRIPT) return { ok: false, reason: 'console-shim.py is missing from the installation' };
  for (const [bin, pkg] of [
    ['skopeo', 'skopeo'],
    ['umoci', 'umoci'],
  ]) {
    const r = await runTool(bin, ['--version'], { pkg }).catch((e: Error) => ({ code: -1, stderr: e.message }));
    if (r.code !== 0) return { ok: false, reason: `${bin} does not run (Debian package ${pkg}): ${r.stderr.trim()}` };
  }
  const fs = await readFile('/proc/filesystems', 'utf8');
  if (!/\toverlay\n/.test(fs)) return { ok: false, reason: 'the kernel has no overlay filesystem (modprobe overlay)' };
  const l = d.cgroups();
  for (const c of ['cpu', 'memory'])
    if (!l.v1.has(c) && !l.v2Controllers.includes(c)) return { ok: false, reason: `no cgroup hierarchy runs the ${c} controller` };
  try {
    await d.baseSpec();
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return { ok: true };
}
