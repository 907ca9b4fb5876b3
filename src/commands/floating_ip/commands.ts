import type { RealisedStatus } from '../../domain/router-plan';
import type { NetworkFacts } from '../network/fields';

export type FloatingIpCommand =
  /**
   * After the address was allocated in `subnetId` of the external network
   * (AllocateIp with allocationId = this floating IP's id, owner floating_ip).
   */
  | { type: 'CreateFloatingIp'; data: { network: NetworkFacts; subnetId: string; floatingIp: string; tenantId: string } }
  /** After router RouteFloatingIp and port AttachFloatingIp have both accepted. */
  | { type: 'AssociateFloatingIp'; data: { portId: string; fixedIp: string; routerId: string } }
  | { type: 'DisassociateFloatingIp'; data: Record<string, never> }
  | { type: 'DeleteFloatingIp'; data: Record<string, never> }
  /** Its router's node says whether it could realise it (ERROR: why not). */
  | { type: 'ReportFloatingIpStatus'; data: { nodeId: string; routerId: string; status: RealisedStatus; reason: string } };
