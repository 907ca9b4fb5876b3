import type { Role } from './identity';

/**
 * The role each method needs. A method in no table is refused to everyone
 * (deny by default): a new service is unreachable until its methods are
 * listed here. `open` needs no identity at all; `any` any identity.
 */
export type Need = Role | 'any' | 'open';

const service = (pkg: string, name: string, methods: Record<string, Need>): Record<string, Need> =>
  Object.fromEntries(Object.entries(methods).map(([m, need]) => [`/${pkg}.${name}/${m}`, need]));

export const CLUSTER_METHODS = service('hypervisor.v1', 'ClusterService', {
  RegisterNode: 'node',
  Heartbeat: 'node',
  // A node for its own node (node-rules.ts); an administrator for any (cordon, drain).
  UpdateNodeStatus: 'node',
  DeregisterNode: 'admin',
  GetNode: 'viewer',
  ListNodes: 'viewer',
  WatchNodes: 'viewer',
  GetClusterInfo: 'viewer',
});

export const COMPUTE_METHODS = service('hypervisor.v1', 'ComputeService', {
  CreateInstance: 'operator',
  DeleteInstance: 'operator',
  StartInstance: 'operator',
  StopInstance: 'operator',
  RestartInstance: 'operator',
  MigrateInstance: 'operator',
  AttachConsole: 'operator',
  PullImage: 'operator',
  GetInstance: 'viewer',
  ListInstances: 'viewer',
  WatchInstance: 'viewer',
  GetInstanceStats: 'viewer',
  ListImages: 'viewer',
});

const NETWORK_WRITES = [
  'CreateNetwork', 'DeleteNetwork', 'CreateSubnet', 'DeleteSubnet', 'AllocateIP', 'ReleaseIP',
  'CreatePort', 'DeletePort', 'BindPort', 'UnbindPort', 'CreateSecurityGroup', 'DeleteSecurityGroup', 'AddSecurityRule', 'RemoveSecurityRule',
  'CreateRouter', 'DeleteRouter', 'AddRouterInterface', 'RemoveRouterInterface', 'AddRoute', 'RemoveRoute',
  'CreateFloatingIP', 'AssociateFloatingIP', 'DisassociateFloatingIP', 'DeleteFloatingIP',
];
const NETWORK_READS = [
  'GetNetwork', 'ListNetworks', 'GetSubnet', 'ListSubnets', 'ListAllocations', 'GetPort', 'ListPorts',
  'GetSecurityGroup', 'ListSecurityGroups', 'GetRouter', 'ListRouters', 'ListFloatingIPs', 'ListVTEPs',
];
export const NETWORK_METHODS = service('hypervisor.v1', 'NetworkService', {
  ...Object.fromEntries(NETWORK_WRITES.map((m) => [m, 'operator' as const])),
  ...Object.fromEntries(NETWORK_READS.map((m) => [m, 'viewer' as const])),
});

/** StorageService (volumes and snapshots): writes are the operator's, as Cinder's defaults have them; reads the viewer's. */
const STORAGE_WRITES = ['CreateVolume', 'UpdateVolume', 'DeleteVolume', 'AttachVolume', 'DetachVolume', 'ResizeVolume', 'CreateSnapshot', 'UpdateSnapshot', 'DeleteSnapshot'];
const STORAGE_READS = ['GetVolume', 'ListVolumes', 'GetSnapshot', 'ListSnapshots'];
export const STORAGE_METHODS = service('hypervisor.v1', 'StorageService', {
  ...Object.fromEntries(STORAGE_WRITES.map((m) => [m, 'operator' as const])),
  ...Object.fromEntries(STORAGE_READS.map((m) => [m, 'viewer' as const])),
});

export const AUDIT_METHODS = service('hypervisor.audit.v1', 'AuditService', { ListEvents: 'viewer', GetStateAt: 'viewer' });

export const IDENTITY_METHODS = service('hypervisor.iam.v1', 'IdentityService', {
  WhoAmI: 'any',
  CreateConsoleLogin: 'viewer',
  CreateUser: 'admin',
  GetUser: 'admin',
  ListUsers: 'admin',
  SetUserRole: 'admin',
  IssueCertificate: 'admin',
  RevokeCertificate: 'admin',
  DeleteUser: 'admin',
  CreateJoinToken: 'admin',
  RevokeJoinToken: 'admin',
  // The token is the credential: a joining host has no certificate yet.
  JoinNode: 'open',
  RenewNodeCertificate: 'node',
  RevokeNode: 'admin',
  CreateFeedCredentials: 'admin',
  RevokeFeedCredentials: 'admin',
  GetNatsAuthorization: 'admin',
});

/** Health is open (load balancers probe it); reflection lists the API to anyone who may call it. */
export const INFRASTRUCTURE_METHODS: Record<string, Need> = {
  '/grpc.health.v1.Health/Check': 'open',
  '/grpc.health.v1.Health/Watch': 'open',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': 'any',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': 'any',
};

export const METHOD_ROLES: Readonly<Record<string, Need>> = {
  ...CLUSTER_METHODS,
  ...COMPUTE_METHODS,
  ...NETWORK_METHODS,
  ...STORAGE_METHODS,
  ...AUDIT_METHODS,
  ...IDENTITY_METHODS,
  ...INFRASTRUCTURE_METHODS,
};
