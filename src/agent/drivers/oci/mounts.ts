import { readFile, stat } from 'node:fs/promises';
import { Internal } from '../../../errors';
import { lastMessage, runTool } from '../../../images/oci/run-tool';

/** Mount points in the agent's mount namespace, from /proc/self/mountinfo (field 5, octal escapes undone). */
export const mountPoints = async (): Promise<Set<string>> => {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
};

export const isMounted = async (target: string): Promise<boolean> => (await mountPoints()).has(target);

/** overlayfs's mount options for a container's root: the image's rootfs the read-only lower layer, the container's own upper and work dirs on top. */
export const overlayOptions = (o: { lower: string; upper: string; work: string }): string => {
  for (const p of [o.lower, o.upper, o.work]) if (/[,:]/.test(p)) throw new Internal(`overlay: ${p} holds ',' or ':', which overlayfs options cannot carry`);
  return `lowerdir=${o.lower},upperdir=${o.upper},workdir=${o.work}`;
};

/** Unmounted (or never mounted) = done; a busy mount is detached lazily so the delete still completes. */
export const unmount = async (target: string): Promise<void> => {
  if (!(await stat(target).catch(() => undefined)) || !(await isMounted(target))) return;
  const r = await runTool('umount', [target], { pkg: 'mount' });
  if (r.code === 0) return;
  const lazy = await runTool('umount', ['-l', target], { pkg: 'mount' });
  if (lazy.code !== 0 && (await isMounted(target))) throw new Internal(`unmounting ${target} failed: ${lastMessage(lazy.stderr || r.stderr)}`);
};
