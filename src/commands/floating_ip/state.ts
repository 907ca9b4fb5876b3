import type { RealisedStatus } from '../../domain/router-plan';
import type { Lifecycle } from '../network/fields';

export interface FloatingIpState {
  readonly id: string;
  readonly status: Lifecycle;
  readonly floatingNetworkId: string;
  /** The external subnet the address was allocated in (allocation id = the floating IP's id). */
  readonly floatingSubnetId: string;
  readonly floatingIp: string;
  readonly tenantId: string;
  /** Association: '' while not associated. */
  readonly portId: string;
  readonly fixedIp: string;
  readonly routerId: string;
  /** What its router's node reported of this association ('' until then). */
  readonly hostStatus: RealisedStatus | '';
  readonly hostReason: string;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): FloatingIpState => ({
  id,
  status: 'absent',
  floatingNetworkId: '',
  floatingSubnetId: '',
  floatingIp: '',
  tenantId: '',
  portId: '',
  fixedIp: '',
  routerId: '',
  hostStatus: '',
  hostReason: '',
});
