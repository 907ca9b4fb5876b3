import { readFile, stat } from 'node:fs/promises';
import { Internal } from '../../../errors';
import { lastMessage, runTool } from '../../../images/oci/run-tool';

/** Mount points in the agent's mount namespace, from /proc/self/mountinfo (field 5, octal escapes undone). */
export const mountPoints = async (): Promise<Set<string>> => {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
};

export const isMounted = async (target: string): Promise<boolean> => (await mountPoints()).has(target);

/**
 * The container's root: the image's rootfs as the read-only lower layer, the
 * container's own upper and work dirs on top. Mounted already = done (the mount
 * outlives the agent, so an adopting agent finds it).
 */
export const mountOverlay = async (
  o: { lower: string; upper: string; work: string; target: string },
  /** mount(2) by another process (the shim zygote): the reason when it failed; without it, mount(8) runs. */
  mount2?: (target: string, options: string) => Promise<string | undefined>,
): Promise<void> => {
  if (await isMounted(o.target)) return;
  for (const p of [o.lower, o.upper, o.work]) if (/[,:]/.test(p)) throw new Internal(`overlay: ${p} holds ',' or ':', which overlayfs options cannot carry`);
  const options = `lowerdir=${o.lower},upperdir=${o.upper},workdir=${o.work}`;
  const failed = mount2 ? await mount2(o.target, options) : await runTool('mount', ['-t', 'overlay', 'overlay', '-o', options, o.target], { pkg: 'mount' }).then((r) => (r.code === 0 ? undefined : lastMessage(r.stderr)));
  if (failed !== undefined) throw new Internal(`mounting the container's overlay on ${o.target} failed: ${failed}`);
};

/** Unmounted (or never mounted) = done; a busy mount is detached lazily so the delete still completes. */
export const unmount = async (target: string): Promise<void> => {
  if (!(await stat(target).catch(() => undefined)) || !(await isMounted(target))) return;
  const r = await runTool('umount', [target], { pkg: 'mount' });
  if (r.code === 0) return;
  const lazy = await runTool('umount', ['-l', target], { pkg: 'mount' });
  if (lazy.code !== 0 && (await isMounted(target))) throw new Internal(`unmounting ${target} failed: ${lastMessage(lazy.stderr || r.stderr)}`);
};
