import { macOf } from './decide';
import type { MacAddressState } from './state';

/** A plain JSON view for audit: the address and who holds it. */
export const toJson = (s: MacAddressState) => ({ macAddress: macOf(s), portId: s.portId, since: s.since?.toISOString() ?? '' });
