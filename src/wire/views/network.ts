import { type Network, NetworkType } from '../../gen/hypervisor/v1/network';
import type { NetworkKind, NetworkState } from '../../commands/network/state';

const TYPE: Record<NetworkKind, NetworkType> = {
  vxlan: NetworkType.NETWORK_TYPE_VXLAN,
  vlan: NetworkType.NETWORK_TYPE_VLAN,
  bridge: NetworkType.NETWORK_TYPE_BRIDGE,
  flat: NetworkType.NETWORK_TYPE_FLAT,
};

/** The Network message; undefined before creation and after deletion. */
export const networkToProto = (s: NetworkState): Network | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        type: TYPE[s.kind],
        vni: s.vni,
        vlanId: s.vlanId,
        mtu: s.mtu,
        adminState: s.adminState,
        shared: s.shared,
        external: s.external,
        tenantId: s.tenantId,
        metadata: { labels: s.labels, annotations: s.annotations },
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

/**
 * The request's type; UNSPECIFIED means VXLAN, the overlay a tenant network
 * gets by default (as Neutron's tenant_network_types). Unknown values: undefined.
 */
export const networkKindFromProto = (t: NetworkType): NetworkKind | undefined =>
  t === NetworkType.NETWORK_TYPE_UNSPECIFIED ? 'vxlan' : (Object.keys(TYPE) as NetworkKind[]).find((k) => TYPE[k] === t);
