import assert from 'node:assert/strict';
import { AlreadyExists, InvalidArgument, ResourceExhausted } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { NetworkPoolEvent } from './events';
import { NETWORK_POOL_ID, networkPoolDecider, segmentOf } from './index';
import type { SegmentKind } from './state';

const reserved = (networkId: string, kind: SegmentKind, segmentId: number): NetworkPoolEvent => ({
  type: 'SegmentReserved',
  data: { networkId, kind, segmentId },
});
const reserve = (networkId: string, kind: SegmentKind, segmentId = 0) => ({ type: 'ReserveSegment', data: { networkId, kind, segmentId } }) as const;
const given = deciderSpec(networkPoolDecider, NETWORK_POOL_ID);

describe('network_pool decider', () => {
  it('gives the lowest free VNI and VLAN id when none is asked for', () => {
    given([]).when(reserve('n-1', 'vxlan')).then([reserved('n-1', 'vxlan', 1)]);
    given([reserved('n-1', 'vxlan', 1), reserved('n-2', 'vxlan', 3)]).when(reserve('n-3', 'vxlan')).then([reserved('n-3', 'vxlan', 2)]);
    given([reserved('n-1', 'vxlan', 1)]).when(reserve('n-2', 'vlan')).then([reserved('n-2', 'vlan', 1)]);
  });
  it('honours a requested segment', () => given([]).when(reserve('n-1', 'vxlan', 5000)).then([reserved('n-1', 'vxlan', 5000)]));
  it('keeps VNIs unique among VXLAN networks: ALREADY_EXISTS', () =>
    given([reserved('n-1', 'vxlan', 42)]).when(reserve('n-2', 'vxlan', 42)).thenThrows(AlreadyExists, /vni: 42 is used by network n-1/));
  it('keeps VLAN ids unique among VLAN networks, apart from VNIs', () => {
    given([reserved('n-1', 'vlan', 42)]).when(reserve('n-2', 'vlan', 42)).thenThrows(AlreadyExists, /vlan_id: 42 is used by network n-1/);
    given([reserved('n-1', 'vxlan', 42)]).when(reserve('n-2', 'vlan', 42)).then([reserved('n-2', 'vlan', 42)]);
  });
  it('adds nothing when the same network asks again, and refuses it a second segment', () => {
    given([reserved('n-1', 'vxlan', 7)]).when(reserve('n-1', 'vxlan')).then([]);
    given([reserved('n-1', 'vxlan', 7)]).when(reserve('n-1', 'vxlan', 7)).then([]);
    given([reserved('n-1', 'vxlan', 7)]).when(reserve('n-1', 'vxlan', 8)).thenThrows(AlreadyExists, /network n-1 already holds VNI 7/);
  });
  it('is INVALID_ARGUMENT out of range or for a type without segments', () => {
    given([]).when(reserve('n-1', 'vxlan', 16_777_216)).thenThrows(InvalidArgument, /vni: 16777216 is outside 1..16777215/);
    given([]).when(reserve('n-1', 'vlan', 4095)).thenThrows(InvalidArgument, /vlan_id: 4095 is outside 1..4094/);
    given([]).when(reserve('n-1', 'flat' as SegmentKind)).thenThrows(InvalidArgument, /only VXLAN and VLAN/);
  });
  it('is RESOURCE_EXHAUSTED when all 4094 VLAN ids are taken', () => {
    const all = Array.from({ length: 4094 }, (_, i) => reserved(`n-${i}`, 'vlan', i + 1));
    given(all).when(reserve('n-x', 'vlan')).thenThrows(ResourceExhausted, /no free VLAN id: all 4094 are in use/);
  });
  it('finds the one free VNI among many taken without enumerating 16M', () => {
    const taken = Array.from({ length: 20_000 }, (_, i) => reserved(`n-${i}`, 'vxlan', i + 1)).filter((e) => e.data.segmentId !== 12_345);
    given(taken).when(reserve('n-x', 'vxlan')).then([reserved('n-x', 'vxlan', 12_345)]);
  });
  it('releases a segment for reuse, once', () => {
    const held = [reserved('n-1', 'vxlan', 1), reserved('n-2', 'vxlan', 2)];
    given(held).when({ type: 'ReleaseSegment', data: { networkId: 'n-1' } })
      .then([{ type: 'SegmentReleased', data: { networkId: 'n-1', kind: 'vxlan', segmentId: 1 } }]);
    const released: NetworkPoolEvent = { type: 'SegmentReleased', data: { networkId: 'n-1', kind: 'vxlan', segmentId: 1 } };
    given([...held, released]).when({ type: 'ReleaseSegment', data: { networkId: 'n-1' } }).then([]);
    given([...held, released]).when(reserve('n-3', 'vxlan')).then([reserved('n-3', 'vxlan', 1)]);
  });
  it('tells the caller which segment a network got', () => {
    const s = fold(networkPoolDecider, NETWORK_POOL_ID, [{ ...reserved('n-1', 'vlan', 9), time: new Date() }]);
    assert.deepEqual(segmentOf(s, 'n-1'), { kind: 'vlan', segmentId: 9 });
    assert.equal(segmentOf(s, 'n-2'), undefined);
  });
});
