import { floatingIpDecider } from './floating_ip';
import type { AnyDecider } from './decider';
import { imageDecider } from './image';
import { instanceDecider } from './instance';
import { macAddressDecider } from './mac_address';
import { networkDecider } from './network';
import { networkPoolDecider } from './network_pool';
import { nodeDecider } from './node';
import { portDecider } from './port';
import { routerDecider } from './router';
import { securityGroupDecider } from './security_group';
import { snapshotDecider } from './snapshot';
import { subnetDecider } from './subnet';
import { userDecider } from './user';
import { volumeDecider } from './volume';
import { joinTokenDecider } from './join_token';
import { nodeIdentityDecider } from './node_identity';
import { integratorDecider } from './integrator';

/** Every aggregate the command handlers serve. */
export const DECIDERS: readonly AnyDecider[] = [
  nodeDecider,
  instanceDecider,
  imageDecider,
  networkDecider,
  networkPoolDecider,
  macAddressDecider,
  subnetDecider,
  portDecider,
  securityGroupDecider,
  routerDecider,
  floatingIpDecider,
  userDecider,
  volumeDecider,
  snapshotDecider,
  joinTokenDecider,
  nodeIdentityDecider,
  integratorDecider,
];
