import type { OwnedKind, Owners } from '../../authz/tenant-rules';
import { TENANT_ANNOTATION } from '../../domain/annotations';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { FloatingIP, Network, Port, Router, SecurityGroup, Subnet } from '../../gen/hypervisor/v1/network';
import type { Snapshot, Volume } from '../../gen/hypervisor/v1/storage';

interface Views<V> {
  get(id: string): V | undefined;
}

export interface OwnedModels {
  readonly networks: Views<Network>;
  readonly subnets: Views<Subnet>;
  readonly ports: Views<Port>;
  readonly securityGroups: Views<SecurityGroup>;
  readonly routers: Views<Router>;
  readonly floatingIps: Views<FloatingIP>;
  readonly instances: Views<Instance>;
  readonly volumes: Views<Volume>;
  readonly snapshots: Views<Snapshot>;
}

/** The tenant of an instance: the annotation only the server writes. */
export const instanceTenant = (i: Instance): string => i.metadata?.annotations[TENANT_ANNOTATION] ?? '';

/** Who owns what, from the read models: subnets and ports belong to their network's tenant. */
export const ownersFrom = (m: OwnedModels): Owners => {
  const network = (id: string) => m.networks.get(id)?.tenantId;
  return {
    tenantOf(kind: OwnedKind, id: string): string | undefined {
      switch (kind) {
        case 'network':
          return network(id);
        case 'subnet': {
          const s = m.subnets.get(id);
          return s && (network(s.networkId) ?? '');
        }
        case 'port': {
          const p = m.ports.get(id);
          return p && (network(p.networkId) ?? '');
        }
        case 'security_group':
          return m.securityGroups.get(id)?.tenantId;
        case 'router':
          return m.routers.get(id)?.tenantId;
        case 'floating_ip':
          return m.floatingIps.get(id)?.tenantId;
        case 'instance': {
          const i = m.instances.get(id);
          return i && instanceTenant(i);
        }
        case 'volume':
          return m.volumes.get(id)?.tenantId;
        case 'snapshot':
          return m.snapshots.get(id)?.tenantId;
      }
    },
  };
};
