import type { PortState } from '../../commands/port';
import type { RemotePort } from '../../domain/host-plan';

/**
 * The nodes an instance is on besides its ports' binding: its own node (a move that has
 * completed before the port's binding caught up) and a move's target. Absent: ports are
 * realised where they are bound, and nowhere else.
 */
export type InstanceHosts = (instanceId: string) => readonly string[];

/**
 * The nodes a port is realised on: its binding's, and while its instance moves, also the
 * move's target (Neutron's second, inactive binding: tap, rules and anti-spoofing ready
 * before the switch), until the binding has followed the instance (instance-network's
 * BindPort). Then it is one node again and the other drops the port.
 */
export const portHostsOf = (p: Pick<PortState, 'nodeId' | 'instanceId'>, hostsOf?: InstanceHosts): string[] =>
  [...new Set([p.nodeId, ...(p.instanceId && hostsOf ? hostsOf(p.instanceId) : [])])].filter(Boolean);

/**
 * One network's VXLAN forwarding entries on one node, as l2population gives them: a port
 * on one other node is a unicast entry to that node's VTEP. A port on two nodes (moving)
 * gets no unicast entry: its frames are flooded to both nodes' VTEPs, so whichever
 * runs the guest gets them through the switch with no host waiting on a new entry (the
 * kernel keeps one destination per unicast MAC; only the flood entry takes several).
 * The node the guest left learns its new place from QEMU's announce-self.
 */
export const forwardingOn = (
  nodeId: string,
  ports: readonly Pick<PortState, 'nodeId' | 'instanceId' | 'macAddress' | 'ipAddress'>[],
  hostsOf: InstanceHosts | undefined,
  vtepOf: (nodeId: string) => string,
): { remotePorts: RemotePort[]; floodVteps: string[] } => {
  const remotePorts: RemotePort[] = [];
  const flood = new Set<string>();
  for (const p of ports) {
    const hosts = portHostsOf(p, hostsOf);
    const others = hosts.filter((h) => h !== nodeId).map(vtepOf).filter(Boolean);
    if (!others.length) continue;
    if (hosts.length === 1) remotePorts.push({ mac: p.macAddress, ip: p.ipAddress, vtep: others[0] });
    else for (const v of others) flood.add(v);
  }
  return { remotePorts, floodVteps: [...flood] };
};
