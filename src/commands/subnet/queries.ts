import type { Allocation, SubnetState } from './state';

/** How the caller learns which address AllocateIp picked (after waiting for its position). */
export const allocationOf = (s: SubnetState, allocationId: string): Allocation | undefined => {
  const at = s.byId.get(allocationId);
  return at === undefined ? undefined : s.allocations.get(at);
};
