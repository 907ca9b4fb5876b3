import type { RealisedStatus } from '../../domain/router-plan';

export interface Association {
  readonly portId: string;
  readonly fixedIp: string;
  readonly routerId: string;
}

export type FloatingIpEvent =
  | { type: 'FloatingIpCreated'; data: { floatingNetworkId: string; floatingSubnetId: string; floatingIp: string; tenantId: string } }
  | { type: 'FloatingIpAssociated'; data: Association }
  /** The caller then sends port DetachFloatingIp and router UnrouteFloatingIp. */
  | { type: 'FloatingIpDisassociated'; data: Association }
  /** The caller then releases the address (ReleaseIp with allocationId = the floating IP's id). */
  | { type: 'FloatingIpDeleted'; data: { floatingNetworkId: string; floatingSubnetId: string; floatingIp: string } }
  /** Its router's node realised it (ACTIVE) or could not (ERROR, with the reason). */
  | { type: 'FloatingIpStatusReported'; data: { nodeId: string; routerId: string; status: RealisedStatus; reason: string } };
