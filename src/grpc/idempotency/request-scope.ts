import { createHash } from 'node:crypto';
import { canonicalJson } from '../../bus/idempotency';

/**
 * What an x-request-id is scoped to, per write method: the method and its
 * target (as Stripe scopes idempotency keys, and Kubernetes names an object
 * by its uid). A create's target is the resource the id itself names (ids
 * are derived from the request id), so it has no field here; RegisterNode's
 * target is the hostname (the same hostname is the same node).
 *
 * Within one scope an id names one request: the same request again is a
 * retry, another request is refused (INVALID_ARGUMENT). Read methods are not
 * listed: they write nothing, and any id may be reused with them.
 */
const TARGET: Readonly<Record<string, (req: Record<string, unknown>) => unknown>> = {
  // ClusterService
  RegisterNode: (r) => String(r.hostname ?? '').toLowerCase(),
  DeregisterNode: (r) => r.nodeId,
  UpdateNodeStatus: (r) => r.nodeId,
  // ComputeService
  CreateInstance: () => '',
  DeleteInstance: (r) => r.instanceId,
  StartInstance: (r) => r.instanceId,
  StopInstance: (r) => r.instanceId,
  RestartInstance: (r) => r.instanceId,
  MigrateInstance: (r) => r.instanceId,
  // NetworkService
  CreateNetwork: () => '',
  DeleteNetwork: (r) => r.networkId,
  CreateSubnet: () => '',
  DeleteSubnet: (r) => r.subnetId,
  AllocateIP: (r) => r.subnetId,
  ReleaseIP: (r) => r.subnetId,
  CreatePort: () => '',
  DeletePort: (r) => r.portId,
  BindPort: (r) => r.portId,
  UnbindPort: (r) => r.portId,
  CreateSecurityGroup: () => '',
  DeleteSecurityGroup: (r) => r.securityGroupId,
  AddSecurityRule: (r) => r.securityGroupId,
  RemoveSecurityRule: (r) => r.securityGroupId,
  CreateRouter: () => '',
  DeleteRouter: (r) => r.routerId,
  AddRouterInterface: (r) => r.routerId,
  RemoveRouterInterface: (r) => r.routerId,
  AddRoute: (r) => r.routerId,
  RemoveRoute: (r) => r.routerId,
  CreateFloatingIP: () => '',
  AssociateFloatingIP: (r) => r.floatingIpId,
  DisassociateFloatingIP: (r) => r.floatingIpId,
  DeleteFloatingIP: (r) => r.floatingIpId,
};

/**
 * Methods whose answer is an empty message: a retry of one that already
 * took effect is answered OK even when the resource it removed is gone now
 * (the first call's answer), where running it again would say NOT_FOUND.
 */
export const EMPTY_ANSWER = new Set([
  'DeregisterNode',
  'DeleteInstance',
  'DeleteNetwork',
  'DeleteSubnet',
  'ReleaseIP',
  'DeletePort',
  'DeleteSecurityGroup',
  'RemoveSecurityRule',
  'DeleteRouter',
  'RemoveRouterInterface',
  'DeleteFloatingIP',
]);

/** A request as the log records it: which scope its id was used in, and what was asked. */
export interface RequestStamp {
  /** Hash of method, target and request id (16 hex). */
  readonly scope: string;
  /** Hash of the request message (32 hex). */
  readonly fingerprint: string;
}

/** `/hypervisor.v1.NetworkService/CreateNetwork` → `CreateNetwork`. */
export const methodOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

export const isScopedWrite = (method: string): boolean => method in TARGET;

const bigintSafe = (v: unknown): unknown =>
  typeof v === 'bigint'
    ? `${v}n`
    : v instanceof Uint8Array
      ? Buffer.from(v).toString('base64')
      : v instanceof Date
        ? v.toISOString()
        : Array.isArray(v)
          ? v.map(bigintSafe)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bigintSafe(x)]))
            : v;

/** The stamp of a write request with a client-given id; undefined for reads and for requests without x-request-id (their id is new). */
export const stampOf = (method: string, requestId: string | undefined, request: unknown): RequestStamp | undefined => {
  const target = TARGET[method];
  if (!target || !requestId) return undefined;
  const req = (request ?? {}) as Record<string, unknown>;
  const scope = createHash('sha256').update(`${method}\n${String(target(req) ?? '')}\n${requestId}`).digest('hex').slice(0, 16);
  const fingerprint = createHash('sha256').update(`${method}\n${canonicalJson(bigintSafe(req))}`).digest('hex').slice(0, 32);
  return { scope, fingerprint };
};
