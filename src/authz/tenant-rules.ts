import { TENANT_ANNOTATION } from '../domain/annotations';
import { Code } from '../errors';
import { ALLOW, type Decision, denied, deny } from './decision';
import type { Identity } from './identity';

/** The resources a request can name, as the audit names their aggregates. */
const OWNED_KINDS = ['network', 'subnet', 'port', 'security_group', 'router', 'floating_ip', 'instance', 'volume', 'snapshot'] as const;
export type OwnedKind = (typeof OWNED_KINDS)[number];

/** Who owns what, from the read models: the tenant ('' for none), or undefined when there is no such resource. */
export interface Owners {
  tenantOf(kind: OwnedKind, id: string): string | undefined;
}

type Req = Record<string, unknown>;
const hidden = (kind: OwnedKind, id: string): Decision => deny(Code.NOT_FOUND, `${kind.replace('_', ' ')} ${id} not found`);

/** Which request fields name which kind of resource, per method (the method's short name). */
const TARGETS: Record<string, Record<string, OwnedKind>> = {
  GetNetwork: { networkId: 'network' },
  DeleteNetwork: { networkId: 'network' },
  CreateSubnet: { networkId: 'network' },
  ListSubnets: { networkId: 'network' },
  GetSubnet: { subnetId: 'subnet' },
  DeleteSubnet: { subnetId: 'subnet' },
  AllocateIP: { subnetId: 'subnet', portId: 'port', instanceId: 'instance' },
  ReleaseIP: { subnetId: 'subnet' },
  ListAllocations: { subnetId: 'subnet' },
  CreatePort: { networkId: 'network', subnetId: 'subnet' },
  ListPorts: { networkId: 'network', instanceId: 'instance' },
  GetPort: { portId: 'port' },
  DeletePort: { portId: 'port' },
  BindPort: { portId: 'port', instanceId: 'instance' },
  UnbindPort: { portId: 'port' },
  GetSecurityGroup: { securityGroupId: 'security_group' },
  DeleteSecurityGroup: { securityGroupId: 'security_group' },
  AddSecurityRule: { securityGroupId: 'security_group', remoteGroupId: 'security_group' },
  RemoveSecurityRule: { securityGroupId: 'security_group' },
  GetRouter: { routerId: 'router' },
  DeleteRouter: { routerId: 'router' },
  AddRouterInterface: { routerId: 'router', subnetId: 'subnet', portId: 'port' },
  RemoveRouterInterface: { routerId: 'router', subnetId: 'subnet' },
  AddRoute: { routerId: 'router' },
  RemoveRoute: { routerId: 'router' },
  AssociateFloatingIP: { floatingIpId: 'floating_ip', portId: 'port' },
  DisassociateFloatingIP: { floatingIpId: 'floating_ip' },
  DeleteFloatingIP: { floatingIpId: 'floating_ip' },
  ListFloatingIPs: { portId: 'port' },
  GetInstance: { instanceId: 'instance' },
  DeleteInstance: { instanceId: 'instance' },
  StartInstance: { instanceId: 'instance' },
  StopInstance: { instanceId: 'instance' },
  RestartInstance: { instanceId: 'instance' },
  MigrateInstance: { instanceId: 'instance' },
  GetInstanceStats: { instanceId: 'instance' },
  AttachConsole: { instanceId: 'instance' },
  WatchInstance: { instanceId: 'instance' },
  CreateVolume: { sourceSnapshotId: 'snapshot', sourceVolumeId: 'volume' },
  GetVolume: { volumeId: 'volume' },
  UpdateVolume: { volumeId: 'volume' },
  DeleteVolume: { volumeId: 'volume' },
  AttachVolume: { volumeId: 'volume', instanceId: 'instance' },
  DetachVolume: { volumeId: 'volume' },
  ResizeVolume: { volumeId: 'volume' },
  ListVolumes: { instanceId: 'instance' },
  CreateSnapshot: { volumeId: 'volume' },
  GetSnapshot: { snapshotId: 'snapshot' },
  UpdateSnapshot: { snapshotId: 'snapshot' },
  DeleteSnapshot: { snapshotId: 'snapshot' },
  ListSnapshots: { volumeId: 'volume' },
};

/** Lists that would show every tenant's objects unless they name one of the caller's. */
const MUST_NAME: Record<string, readonly string[]> = {
  ListSubnets: ['networkId'],
  ListPorts: ['networkId', 'instanceId'],
  WatchInstance: ['instanceId'],
};

/** Creates and lists with a tenant_id field: the caller's tenant is filled in; another one is refused. */
const TENANT_FIELD = new Set([
  'CreateNetwork', 'CreateSecurityGroup', 'CreateRouter', 'CreateFloatingIP', 'CreateVolume', 'CreateSnapshot',
  'ListNetworks', 'ListSecurityGroups', 'ListRouters', 'ListFloatingIPs', 'ListVolumes', 'ListSnapshots',
]);

const AUDITED_KINDS = new Set<string>(OWNED_KINDS);

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * What a user bound to a tenant may do beyond its role, as OpenStack answers:
 * another tenant's resource is NOT_FOUND (a tenant cannot learn what others
 * have), naming another tenant is PERMISSION_DENIED, and the tenant is
 * written into what it creates. Returns the request to hand on (with the
 * tenant filled in) when allowed.
 */
export const tenantDecision = (who: Identity & { tenant: string }, method: string, request: unknown, owners: Owners): Decision => {
  const name = method.slice(method.lastIndexOf('/') + 1);
  const service = method.slice(1, method.lastIndexOf('/'));
  const req = (request ?? {}) as Req;
  const mine = (kind: OwnedKind, id: string, sharedOk = false): Decision | undefined => {
    if (!id) return undefined;
    const owner = owners.tenantOf(kind, id);
    if (owner === undefined || owner === who.tenant || (sharedOk && owner === '')) return undefined;
    return hidden(kind, id);
  };

  if (service === 'hypervisor.iam.v1.IdentityService') return name === 'WhoAmI' || name === 'CreateConsoleLogin' ? ALLOW : denied(`${method}: users bound to a tenant do not manage identities`);
  if (service === 'hypervisor.audit.v1.AuditService') {
    const kind = str(req.aggregateType);
    if (!AUDITED_KINDS.has(kind) || !str(req.aggregateId)) return denied(`${method}: a user bound to tenant ${who.tenant} reads the history of one of its resources: name aggregate_type and aggregate_id`);
    return mine(kind as OwnedKind, str(req.aggregateId)) ?? ALLOW;
  }
  if (MUST_NAME[name] && !MUST_NAME[name].some((f) => str(req[f])))
    return denied(`${method}: a user bound to tenant ${who.tenant} must name ${MUST_NAME[name].join(' or ')} (one of its own)`);
  for (const [field, kind] of Object.entries(TARGETS[name] ?? {})) {
    const refusal = mine(kind, str(req[field]));
    if (refusal) return refusal;
  }
  if (TENANT_FIELD.has(name)) {
    const given = str(req.tenantId);
    if (given && given !== who.tenant) return denied(`${method}: tenant_id "${given}" is not the caller's tenant (${who.tenant})`);
    // An external network without a tenant carries floating IPs for everyone.
    if (name === 'CreateFloatingIP') {
      const refusal = mine('network', str(req.floatingNetworkId), true);
      if (refusal) return refusal;
    }
    return { allow: true, request: { ...req, tenantId: who.tenant } };
  }
  if (name === 'CreateInstance') {
    const spec = (req.spec ?? {}) as Req;
    const net = (spec.network ?? {}) as Req;
    const refusal =
      mine('network', str(net.networkId)) ??
      mine('subnet', str(net.subnetId)) ??
      (Array.isArray(net.securityGroups) ? net.securityGroups.map((g) => mine('security_group', str(g))).find((d) => d) : undefined);
    if (refusal) return refusal;
    const metadata = (req.metadata ?? { labels: {}, annotations: {} }) as Req;
    return { allow: true, request: { ...req, metadata: { ...metadata, annotations: { ...((metadata.annotations as object) ?? {}), [TENANT_ANNOTATION]: who.tenant } } } };
  }
  return ALLOW;
};

/** Anyone's CreateInstance naming the tenant annotation: only the server writes it. */
export const setsTenantAnnotation = (method: string, request: unknown): boolean => {
  if (!method.endsWith('/CreateInstance')) return false;
  const annotations = ((request as Req | undefined)?.metadata as Req | undefined)?.annotations as Record<string, unknown> | undefined;
  return !!annotations && TENANT_ANNOTATION in annotations;
};
