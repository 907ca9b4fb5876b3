import type { Evolving } from '../decider';
import type { MacAddressEvent } from './events';
import type { MacAddressState } from './state';

export const evolve = (s: MacAddressState, e: Evolving<MacAddressEvent>): MacAddressState => {
  switch (e.type) {
    case 'MacReserved':
      return { ...s, portId: e.data.portId, since: e.time };
    case 'MacReleased':
      return { id: s.id, portId: '' };
  }
};
