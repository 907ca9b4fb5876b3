import { Code } from '../errors';
import { ALLOW, type Decision, deny } from './decision';
import { grants, type Identity } from './identity';
import { METHOD_ROLES, type Need } from './method-roles';
import { NO_PLACEMENT, nodeDecision, type Placement } from './node-rules';
import { type Owners, setsTenantAnnotation, tenantDecision } from './tenant-rules';

export type { Decision } from './decision';

const NOBODY_OWNS: Owners = { tenantOf: () => undefined };

/** Methods whose objects belong to no tenant: only identities without one see them. */
const CLUSTER_WIDE = /^\/hypervisor\.v1\.(ClusterService\/|NetworkService\/ListVTEPs$)/;

/**
 * The one authorization decision, a pure function of who calls, what, with
 * which request, and the read models (as Kubernetes' Node authorizer is):
 * - no identity: UNAUTHENTICATED (only `open` methods answer);
 * - a method in no table: PERMISSION_DENIED, whoever asks (deny by default);
 * - a role short of the method's: PERMISSION_DENIED naming the method and the role it needs;
 * - a node acts only on itself, and a user never as a node (node-rules.ts);
 * - a tenant-bound identity: the tenant rules (another tenant's resource is NOT_FOUND;
 *   its tenant is written into what it creates).
 */
export const authorize = (
  identity: Identity | undefined,
  method: string,
  request: unknown,
  owners: Owners = NOBODY_OWNS,
  table: Readonly<Record<string, Need>> = METHOD_ROLES,
  placement: Placement = NO_PLACEMENT,
): Decision => {
  const need = table[method];
  if (need === 'open') return ALLOW;
  if (!identity) return deny(Code.UNAUTHENTICATED, `${method}: a client certificate signed by the cluster CA is required`);
  if (need === undefined) return deny(Code.PERMISSION_DENIED, `${method}: no role may call this method`);
  if (need !== 'any' && !grants(identity.role, need))
    return deny(Code.PERMISSION_DENIED, `${method} needs the ${need} role; ${identity.name} has the ${identity.role} role`);
  const asNode = nodeDecision(identity, method, request, placement);
  if (!asNode.allow) return asNode;
  if (setsTenantAnnotation(method, request))
    return deny(Code.INVALID_ARGUMENT, 'metadata.annotations["hypervisor.tenant"]: set by the server only (from the caller\'s tenant)');
  if (identity.tenant !== undefined) {
    if (CLUSTER_WIDE.test(method)) return deny(Code.PERMISSION_DENIED, `${method}: nodes and VTEPs are for users without a tenant; ${identity.name} is bound to tenant ${identity.tenant}`);
    return tenantDecision(identity as Identity & { tenant: string }, method, request, owners);
  }
  return ALLOW;
};
