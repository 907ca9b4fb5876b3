import { AlreadyExists, InvalidArgument, ResourceExhausted } from '../../errors';
import { firstFree } from '../../domain/ipam/allocate';
import { requireToken } from '../network/fields';
import { VLAN_RANGE, VNI_RANGE } from '../network/validate';
import type { NetworkPoolCommand } from './commands';
import type { NetworkPoolEvent } from './events';
import type { NetworkPoolState, SegmentKind } from './state';

const RANGE = { vxlan: VNI_RANGE, vlan: VLAN_RANGE } as const;
const FIELD = { vxlan: 'vni', vlan: 'vlan_id' } as const;
const WORD = { vxlan: 'VNI', vlan: 'VLAN id' } as const;

export const decide = (cmd: NetworkPoolCommand, s: NetworkPoolState): NetworkPoolEvent[] => {
  switch (cmd.type) {
    case 'ReserveSegment': {
      const { networkId, kind, segmentId } = cmd.data;
      requireToken('network_id', networkId);
      if (kind !== 'vxlan' && kind !== 'vlan') throw new InvalidArgument(`type: only VXLAN and VLAN networks take a segment, not "${String(kind)}"`);
      const range = RANGE[kind];
      const field = FIELD[kind];
      if (segmentId !== 0 && (!Number.isInteger(segmentId) || segmentId < range.min || segmentId > range.max))
        throw new InvalidArgument(`${field}: ${segmentId} is outside ${range.min}..${range.max}`);
      const held = s.byNetwork.get(networkId);
      if (held) {
        if (held.kind === kind && (segmentId === 0 || segmentId === held.segmentId)) return []; // redelivered
        throw new AlreadyExists(`network ${networkId} already holds ${WORD[held.kind]} ${held.segmentId}`);
      }
      const taken = s[kind];
      if (segmentId !== 0) {
        const owner = taken.get(BigInt(segmentId));
        if (owner !== undefined) throw new AlreadyExists(`${field}: ${segmentId} is used by network ${owner}`);
        return [{ type: 'SegmentReserved', data: { networkId, kind, segmentId } }];
      }
      const free = firstFree([{ start: BigInt(range.min), end: BigInt(range.max) }], taken);
      if (free === undefined) throw new ResourceExhausted(`no free ${WORD[kind]}: all ${range.max - range.min + 1} are in use`);
      return [{ type: 'SegmentReserved', data: { networkId, kind, segmentId: Number(free) } }];
    }
    case 'ReleaseSegment': {
      const held = s.byNetwork.get(cmd.data.networkId);
      if (!held) return []; // never held, or released already
      return [{ type: 'SegmentReleased', data: { networkId: cmd.data.networkId, ...held } }];
    }
    default:
      throw new InvalidArgument(`unknown network_pool command ${(cmd as { type: string }).type}`);
  }
};

export type { SegmentKind };
