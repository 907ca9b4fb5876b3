import { randomBytes } from 'node:crypto';
import { HostRunner } from '../../src/sdn/run';

let has8021q: Promise<boolean> | undefined;

/**
 * Whether this machine's kernel makes 802.1Q VLAN interfaces (CONFIG_VLAN_8021Q
 * or the 8021q module): some test machines' kernels are built without it.
 * Tried in a scratch namespace of its own, removed after.
 */
export const kernelHas8021q = (): Promise<boolean> =>
  (has8021q ??= (async () => {
    const root = new HostRunner();
    const ns = `hvt${randomBytes(2).toString('hex')}-vlanprobe`;
    await root.ip(['netns', 'add', ns]);
    try {
      await root.in(ns).ip(['link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
      return await root.in(ns).ip(['link', 'add', 'link', 'p0', 'name', 'p0.7', 'type', 'vlan', 'id', '7']).then(() => true, () => false);
    } finally {
      await root.ip(['netns', 'del', ns]).catch(() => undefined);
    }
  })());
