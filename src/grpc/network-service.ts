import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { NetworkServiceServer } from '../gen/hypervisor/v1/network';
import type { NetworkServiceDeps } from './network/context';
import { floatingIpMethods } from './network/floating-ips';
import { networkMethods } from './network/networks';
import { portMethods } from './network/ports';
import { routerMethods } from './network/routers';
import { securityGroupMethods } from './network/security-groups';
import { subnetMethods } from './network/subnets';
import { vtepMethods } from './network/vteps';

export type { NetworkServiceDeps } from './network/context';

/**
 * NetworkService: all 37 methods. Each validates its request (INVALID_ARGUMENT
 * naming the field), sends commands (multi-aggregate ones as sagas, see
 * src/processes/network/sagas), waits until the read models applied
 * them and answers from there. One file per resource family in ./network.
 */
export const networkService = (d: NetworkServiceDeps): NetworkServiceServer & UntypedServiceImplementation => ({
  ...networkMethods(d),
  ...subnetMethods(d),
  ...portMethods(d),
  ...securityGroupMethods(d),
  ...routerMethods(d),
  ...floatingIpMethods(d),
  ...vtepMethods(d),
});
