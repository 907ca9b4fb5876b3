import type { NetworkState } from './state';

/** What other aggregates' commands need to know about a network (see NetworkFacts). */
export const networkFacts = (id: string, s: NetworkState | undefined) => ({
  id,
  exists: s?.status === 'active',
  external: s?.status === 'active' && s.external,
});
