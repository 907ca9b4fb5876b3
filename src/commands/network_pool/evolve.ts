import type { Evolving } from '../decider';
import type { NetworkPoolEvent } from './events';
import type { NetworkPoolState } from './state';

export const evolve = (s: NetworkPoolState, e: Evolving<NetworkPoolEvent>): NetworkPoolState => {
  const { networkId, kind, segmentId } = e.data;
  switch (e.type) {
    case 'SegmentReserved':
      return {
        ...s,
        [kind]: s[kind].set(BigInt(segmentId), networkId),
        byNetwork: s.byNetwork.set(networkId, { kind, segmentId }),
      };
    case 'SegmentReleased':
      return { ...s, [kind]: s[kind].delete(BigInt(segmentId)), byNetwork: s.byNetwork.delete(networkId) };
  }
};
