import { requireLabels } from '../../domain/validate';
import { InvalidArgument } from '../../errors';
import type { NetworkSpec } from './commands';
import { optionalText } from './fields';
import type { NetworkKind } from './state';

export const KINDS: readonly NetworkKind[] = ['vxlan', 'vlan', 'flat', 'bridge'];
export const VNI_RANGE = { min: 1, max: 16_777_215 } as const; // 24 bits; 0 is not a usable VNI
export const VLAN_RANGE = { min: 1, max: 4094 } as const; // 0 and 4095 are reserved by 802.1Q

/** VXLAN over IPv4 adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8) inside a 1500/9000-byte underlay. */
export const VXLAN_OVERHEAD = 50;
export const UNDERLAY_MAX_MTU = 9000;
/** The IPv4 minimum (RFC 791). A network that gets an IPv6 subnet needs 1280 (RFC 8200); AddSubnet checks that. */
export const MIN_MTU = 68;
export const IPV6_MIN_MTU = 1280;

const DEFAULT_MTU: Record<NetworkKind, number> = { vxlan: 1500 - VXLAN_OVERHEAD, vlan: 1500, flat: 1500, bridge: 1500 };
const MAX_MTU: Record<NetworkKind, number> = {
  vxlan: UNDERLAY_MAX_MTU - VXLAN_OVERHEAD,
  vlan: UNDERLAY_MAX_MTU,
  flat: UNDERLAY_MAX_MTU,
  bridge: UNDERLAY_MAX_MTU,
};

export const resolveMtu = (kind: NetworkKind, mtu: number): number => {
  if (mtu === 0) return DEFAULT_MTU[kind];
  if (!Number.isInteger(mtu) || mtu < MIN_MTU) throw new InvalidArgument(`mtu: ${mtu} is below ${MIN_MTU}, the least IPv4 needs`);
  if (mtu > MAX_MTU[kind])
    throw new InvalidArgument(
      kind === 'vxlan'
        ? `mtu: ${mtu} is above ${MAX_MTU.vxlan}, the most a VXLAN network carries (${UNDERLAY_MAX_MTU} minus its ${VXLAN_OVERHEAD}-byte header)`
        : `mtu: ${mtu} is above ${MAX_MTU[kind]}, the most a ${kind} network carries`,
    );
  return mtu;
};

/**
 * Checks the request before anything is reserved: the segment fields must
 * fit the kind (0 = let network_pool pick the lowest free one).
 */
export const validateNetworkRequest = (d: NetworkSpec): void => {
  if (!KINDS.includes(d.kind)) throw new InvalidArgument(`type: "${String(d.kind)}" is not a network type (vxlan, vlan, flat, bridge)`);
  optionalText('name', d.name);
  optionalText('tenant_id', d.tenantId);
  checkSegment('vni', d.vni, VNI_RANGE, d.kind === 'vxlan', 'VXLAN');
  checkSegment('vlan_id', d.vlanId, VLAN_RANGE, d.kind === 'vlan', 'VLAN');
  resolveMtu(d.kind, d.mtu);
  requireLabels('metadata.labels', d.labels);
  requireLabels('metadata.annotations', d.annotations);
};

const checkSegment = (field: string, v: number, range: { min: number; max: number }, applies: boolean, kind: string) => {
  if (!applies) {
    if (v !== 0) throw new InvalidArgument(`${field}: only ${kind} networks have a ${field === 'vni' ? 'VNI' : 'VLAN id'}`);
    return;
  }
  if (v !== 0 && (!Number.isInteger(v) || v < range.min || v > range.max))
    throw new InvalidArgument(`${field}: ${v} is outside ${range.min}..${range.max}`);
};

/** CreateNetwork itself needs the segment already reserved. */
export const validateNetworkSpec = (d: NetworkSpec): void => {
  validateNetworkRequest(d);
  if (d.kind === 'vxlan' && d.vni === 0) throw new InvalidArgument('vni: reserve a VNI in network_pool before CreateNetwork');
  if (d.kind === 'vlan' && d.vlanId === 0) throw new InvalidArgument('vlan_id: reserve a VLAN id in network_pool before CreateNetwork');
};
