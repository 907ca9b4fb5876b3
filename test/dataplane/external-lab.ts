import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { PHYSICAL_NETWORK_ANNOTATION } from '../../src/processes/dataplane/host-plan';
import { until } from '../support/control-plane';
import { ExternalNet } from '../support/external-net';
import { DataplaneLab } from './support';

/**
 * Three namespace hosts whose eth1 (`--physical-interface ext=eth1`) reach an external host
 * on a second underlay that has no route to any tenant subnet: what the router suites stand
 * on. Addresses: 198.19.64.0/18 (hosts in .64–.95, the external underlay .96).
 */
export const externalLabForSuite = (): { t: DataplaneLab; ext: () => ExternalNet } => {
  let ext: ExternalNet | undefined;
  const t = DataplaneLab.forSuite(3, {
    range: { net: '198.19', min: 64, max: 95 },
    prepare: async (lab) => void (ext = await ExternalNet.create(lab, '198.19.96')),
    agentArgs: ['--physical-interface', 'ext=eth1'],
  });
  return { t, ext: () => ext! };
};

/** The external FLAT network `public` on physical network `ext`, with the external host's subnet (no DHCP). */
export const externalNetwork = async (t: DataplaneLab, ext: ExternalNet) => {
  const network = await t.net.network({ name: 'public', type: NetworkType.NETWORK_TYPE_FLAT, external: true, metadata: { labels: {}, annotations: { [PHYSICAL_NETWORK_ANNOTATION]: 'ext' } } });
  const subnet = await t.net.subnet(network.id, ext.cidr, { gatewayIp: ext.ip, enableDhcp: false });
  return { network, subnet };
};

/** The host the control plane placed the router on, and the other two (where the suites put their VMs). */
export const routerHosts = async (t: DataplaneLab, routerId: string): Promise<{ routerNode: () => string; at: number; others: [number, number] }> => {
  const routerNode = () => t.cp.cp.network!.models.routers.state(routerId)?.nodeId ?? '';
  await until('router placed', async () => !!routerNode());
  const at = t.nodeIds.indexOf(routerNode());
  const [a, b] = [0, 1, 2].filter((i) => i !== at);
  return { routerNode, at, others: [a, b] };
};
