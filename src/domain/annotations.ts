/**
 * Annotation keys the project reads and writes (the published messages have no
 * fields for them; CONTRACT.md lists the ones clients set).
 */

/** Node annotations the agent registers with. */
export const TUNNEL_IP_ANNOTATION = 'hypervisor.tunnel-ip';
export const TUNNEL_INTERFACE_ANNOTATION = 'hypervisor.tunnel-interface';
/** A node's VTEP address: the tunnel IP it registered, else its address. */
export const tunnelIpOf = (n: { readonly ip: string; readonly annotations: Readonly<Record<string, string>> }): string => n.annotations[TUNNEL_IP_ANNOTATION] || n.ip;
/** Comma-separated model binding types the node's data plane offers; absent = it has none (hollow nodes). */
export const PORT_BINDINGS_ANNOTATION = 'hypervisor.port-bindings';
/** On a FLAT, VLAN or external network: which host interface mapping (`--physical-interface`) it bridges onto. */
export const PHYSICAL_NETWORK_ANNOTATION = 'hypervisor.physical-network';
/** On an instance: the tenant of the user who created it. Only the server sets it. */
export const TENANT_ANNOTATION = 'hypervisor.tenant';
/** Node annotation an agent registers with: the ids of the volume keys it holds, comma-separated (never a key). */
export const VOLUME_KEYS_ANNOTATION = 'hypervisor.volume-keys';
/** On a volume or snapshot in ERROR: why (what the agent said). */
export const REASON_ANNOTATION = 'hypervisor.reason';
/** A node label: the kind of storage its pool is (ssd, hdd, nvme); volumes of a type go to nodes with it, or unlabelled ones. */
export const STORAGE_TYPE_LABEL = 'hypervisor.storage-type';

/** Set by an agent that serves AgentService over TLS with its node certificate (accepting only the control plane's). */
export const AGENT_TLS_ANNOTATION = 'hypervisor.agent-tls';
