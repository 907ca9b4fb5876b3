import { createHash } from 'node:crypto';

/**
 * Names of what a router is made of on a host (issue 11), derived from model
 * ids like the rest of names.ts, so a restarted agent, or the node a router
 * moves to, finds and makes the same ones. Host ends carry our `hv-` prefix
 * (the driver's prune keeps them only while a router wants them); the ends
 * inside the router's namespace are alone there and use Neutron's `qr-`/`qg-`.
 */
const h = (id: string, n = 11) => createHash('sha256').update(id).digest('hex').slice(0, n);

/** Machine-wide, so it holds the host's tag (two agents on one machine never share one). */
export const routerNamespace = (tag: string, routerId: string) => `hv-${tag}-r-${h(routerId)}`;
/** What every router namespace of a host starts with (prune looks only at these). */
export const routerNamespacePrefix = (tag: string) => `hv-${tag}-r-`;
/** Host end of an interface's veth, on the subnet's network bridge. */
export const routerPortVeth = (portId: string) => `hv-r${h(portId)}`;
/** Host end of the gateway's veth, on the external network's bridge. */
export const routerGatewayVeth = (routerId: string) => `hv-g${h(routerId)}`;
export const routerPortInner = (portId: string) => `qr-${h(portId)}`;
export const routerGatewayInner = (routerId: string) => `qg-${h(routerId)}`;

/**
 * The gateway's MAC: the gateway has no port (its address is an allocation),
 * so the MAC comes from the router id, locally administered and unicast, the
 * same on whichever node the router runs: the external hosts' ARP caches stay right.
 */
export const routerGatewayMac = (routerId: string) => {
  const b = createHash('sha256').update(`router-gateway:${routerId}`).digest().subarray(0, 6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
};
