import { randomUUID } from 'node:crypto';
import * as pb from '../../src/gen/hypervisor/v1/network';
import { call, type TestControlPlane } from '../support/control-plane';

/** Each method's request message, so a test writes only the fields it cares about. */
const REQUEST = {
  createNetwork: pb.CreateNetworkRequest,
  getNetwork: pb.GetNetworkRequest,
  listNetworks: pb.ListNetworksRequest,
  deleteNetwork: pb.DeleteNetworkRequest,
  createSubnet: pb.CreateSubnetRequest,
  getSubnet: pb.GetSubnetRequest,
  listSubnets: pb.ListSubnetsRequest,
  deleteSubnet: pb.DeleteSubnetRequest,
  allocateIp: pb.AllocateIPRequest,
  releaseIp: pb.ReleaseIPRequest,
  listAllocations: pb.ListAllocationsRequest,
  createPort: pb.CreatePortRequest,
  getPort: pb.GetPortRequest,
  listPorts: pb.ListPortsRequest,
  deletePort: pb.DeletePortRequest,
  bindPort: pb.BindPortRequest,
  unbindPort: pb.UnbindPortRequest,
  createSecurityGroup: pb.CreateSecurityGroupRequest,
  getSecurityGroup: pb.GetSecurityGroupRequest,
  listSecurityGroups: pb.ListSecurityGroupsRequest,
  deleteSecurityGroup: pb.DeleteSecurityGroupRequest,
  addSecurityRule: pb.AddSecurityRuleRequest,
  removeSecurityRule: pb.RemoveSecurityRuleRequest,
  createRouter: pb.CreateRouterRequest,
  getRouter: pb.GetRouterRequest,
  listRouters: pb.ListRoutersRequest,
  deleteRouter: pb.DeleteRouterRequest,
  addRouterInterface: pb.AddRouterInterfaceRequest,
  removeRouterInterface: pb.RemoveRouterInterfaceRequest,
  addRoute: pb.AddRouteRequest,
  removeRoute: pb.RemoveRouteRequest,
  createFloatingIp: pb.CreateFloatingIPRequest,
  associateFloatingIp: pb.AssociateFloatingIPRequest,
  disassociateFloatingIp: pb.DisassociateFloatingIPRequest,
  deleteFloatingIp: pb.DeleteFloatingIPRequest,
  listFloatingIPs: pb.ListFloatingIPsRequest,
  listVtePs: pb.ListVTEPsRequest,
} as const;

export type Method = keyof typeof REQUEST;
type Req<K extends Method> = Parameters<pb.NetworkServiceServer[K]>[0]['request'];
type Res<K extends Method> = NonNullable<Parameters<Parameters<pb.NetworkServiceServer[K]>[1]>[1]>;
type Partial<K extends Method> = Parameters<(typeof REQUEST)[K]['fromPartial']>[0];

/** A NetworkService client through the real generated client, with shorthands for the resources most tests need. */
export class Net {
  readonly c: pb.NetworkServiceClient;

  constructor(t: TestControlPlane | { client: TestControlPlane['client'] }) {
    this.c = t.client(pb.NetworkServiceClient);
  }

  /** Calls a method with only the fields given (the rest at their defaults) and a fresh request id, unless one is given. */
  rpc<K extends Method>(method: K, req: Partial<K>, requestId: string = randomUUID()): Promise<Res<K>> {
    const full = (REQUEST[method].fromPartial as (o: unknown) => Req<K>)(req);
    const fn = this.c[method] as unknown as (...a: never[]) => unknown;
    return call(this.c, fn as never, full, { 'x-request-id': requestId, 'x-actor': 'net-test' }) as Promise<Res<K>>;
  }

  async network(over: Partial<'createNetwork'> = {}): Promise<pb.Network> {
    return (await this.rpc('createNetwork', { name: 'n', ...over })).network!;
  }

  async subnet(networkId: string, cidr: string, over: Partial<'createSubnet'> = {}): Promise<pb.Subnet> {
    return (await this.rpc('createSubnet', { networkId, cidr, name: 's', ...over })).subnet!;
  }

  async port(networkId: string, over: Partial<'createPort'> = {}): Promise<pb.Port> {
    return (await this.rpc('createPort', { networkId, name: 'p', ...over })).port!;
  }

  async group(over: Partial<'createSecurityGroup'> = {}): Promise<pb.SecurityGroup> {
    return (await this.rpc('createSecurityGroup', { name: 'g', ...over })).securityGroup!;
  }
}
