import { sshKeysOf, userDataOf } from '../../domain/guest-annotations';
import type { HostPlan } from '../../domain/host-plan';

/** The link-local address cloud guests ask for their metadata (EC2's, OpenStack's, ours). */
export const METADATA_IP = '169.254.169.254';
/** Where the guest's cloud-init posts when its first boot is done (vendor-data's phone_home). */
export const PHONE_HOME_PATH = '/hv/phone-home';

/** The files of a NoCloud seed (cloud-init's DataSourceNoCloud), as the ISO holds them. */
export interface NoCloudSeed {
  metaData: string;
  userData: string;
  networkConfig?: string;
  vendorData?: string;
}

export interface GuestFacts {
  instanceId: string;
  name: string;
  annotations: Readonly<Record<string, string>>;
  /** The instance's ports as its work carries them (its networks with this node's DHCP ports). */
  network?: HostPlan;
}

/** A host name from the instance name (which may hold '_' and '.', which a host name's label may not). */
export const hostnameOf = (name: string): string => name.replace(/[_.]/g, '-').toLowerCase();

/**
 * What a guest is told on its seed. JSON is YAML, so every file but user-data is
 * written as JSON: nothing of the user's is ever spliced into YAML text.
 * - meta-data: instance-id (a new id is a new instance to cloud-init: first boot
 *   again), local-hostname, public-keys (the default user's authorized_keys).
 * - network-config v2: each port by its MAC, named eth<n> in port order. On a DHCP
 *   subnet: DHCP (its server on this node hands out the model's address, MTU and
 *   DNS, and routes 169.254.169.254 to itself, where the metadata service answers;
 *   its port may not exist yet when this seed is made, so no static route to it).
 *   Without DHCP: the model's address, gateway, MTU and the subnet's DNS servers
 *   (the port's plan carries them), static.
 * - vendor-data: with the metadata service, phone_home tells it the first boot is done.
 */
export const noCloudSeed = (g: GuestFacts, opts: { metadata: boolean }): NoCloudSeed => {
  const metaData = { 'instance-id': g.instanceId, 'local-hostname': hostnameOf(g.name), 'public-keys': sshKeysOf(g.annotations) };
  const networkConfig = networkConfigOf(g.network);
  // The service answers in this node's DHCP namespaces: a guest on a DHCP subnet is routed there.
  const reachable = opts.metadata && !!g.network?.ports.some((p) => g.network!.networks.some((n) => n.id === p.networkId && n.dhcp.some((d) => d.subnetId === p.subnetId)));
  return {
    metaData: `${JSON.stringify(metaData, null, 1)}\n`,
    userData: userDataOf(g.annotations) ?? '',
    ...(networkConfig ? { networkConfig: `${JSON.stringify(networkConfig, null, 1)}\n` } : {}),
    ...(reachable ? { vendorData: vendorData() } : {}),
  };
};

const vendorData = (): string =>
  `#cloud-config\n${JSON.stringify({ phone_home: { url: `http://${METADATA_IP}${PHONE_HOME_PATH}`, post: ['instance_id', 'hostname'], tries: 10 } }, null, 1)}\n`;

interface Ethernet {
  match: { macaddress: string };
  'set-name': string;
  mtu?: number;
  dhcp4?: boolean;
  addresses?: string[];
  routes?: { to: string; via: string }[];
  nameservers?: { addresses: string[] };
}

export const networkConfigOf = (plan: HostPlan | undefined): { version: 2; ethernets: Record<string, Ethernet> } | undefined => {
  if (!plan?.ports.length) return undefined;
  const ethernets: Record<string, Ethernet> = {};
  plan.ports.forEach((p, i) => {
    const net = plan.networks.find((n) => n.id === p.networkId);
    const dhcp = net?.dhcp.find((d) => d.subnetId === p.subnetId);
    const name = `eth${i}`;
    const mtu = p.mtu || net?.mtu;
    const base = { match: { macaddress: p.mac.toLowerCase() }, 'set-name': name, ...(mtu ? { mtu } : {}) };
    if (!p.ip || dhcp) {
      ethernets[name] = { ...base, dhcp4: true };
      return;
    }
    // One default route, through the first port that has a gateway.
    const routes = p.gateway && !Object.values(ethernets).some((e) => e.routes?.some((r) => r.to === '0.0.0.0/0')) ? [{ to: '0.0.0.0/0', via: p.gateway }] : [];
    const nameservers = p.dnsServers?.length ? { nameservers: { addresses: [...p.dnsServers] } } : {};
    ethernets[name] = { ...base, addresses: [`${p.ip}/${p.prefixLength}`], ...(routes.length ? { routes } : {}), ...nameservers };
  });
  return { version: 2, ethernets };
};
