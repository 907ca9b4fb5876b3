import { createHash } from 'node:crypto';

/**
 * Names of what the data plane makes on a host. Each is derived from the
 * model id (so a restarted agent finds what it made) and carries our prefix
 * `hv-` (so it never touches what it did not make). Links live in the host's
 * network namespace and need only be unique there (at most 15 characters);
 * namespaces are machine-wide, so theirs also hold the host's tag.
 */
export const PREFIX = 'hv-';
const h = (id: string, n = 11) => createHash('sha256').update(id).digest('hex').slice(0, n);

export const bridgeName = (networkId: string) => `hv-b${h(networkId)}`;
export const vxlanName = (networkId: string) => `hv-x${h(networkId)}`;
export const vlanName = (networkId: string) => `hv-v${h(networkId)}`;
export const tapName = (portId: string) => `hv-t${h(portId)}`;
/** Host end of a container port's veth (its peer is the container's eth<n>). */
export const vethName = (portId: string) => `hv-c${h(portId)}`;
/** The host device of a port: a tap for a guest QEMU runs, a veth for a container. */
export const portDeviceName = (portId: string, instanceType: string) => (instanceType === 'container' ? vethName(portId) : tapName(portId));
/** Host end of a DHCP namespace's veth (on the network's bridge). */
export const dhcpVethName = (subnetId: string) => `hv-d${h(subnetId)}`;
/** The end inside the DHCP namespace (alone there, so a fixed name). */
export const DHCP_INNER_IF = 'hv-dhcp0';
/** A short tag for a host, from its name, safe in file and namespace names. */
export const hostTag = (hostname: string) => hostname.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 24) || h(hostname, 8);
export const dhcpNamespace = (tag: string, subnetId: string) => `hv-${tag}-dhcp-${h(subnetId)}`;
/** The network namespace of a container's ports, which runc joins; it outlives container restarts and goes with the ports. */
export const containerNamespace = (tag: string, instanceId: string) => `hv-${tag}-ct-${h(instanceId)}`;
export const containerNamespacePrefix = (tag: string) => `hv-${tag}-ct-`;
export const NETNS_DIR = '/run/netns';
export const isOurs = (name: string) => name.startsWith(PREFIX);
export const NFT_TABLE = 'hv';
