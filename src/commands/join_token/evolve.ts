import type { Evolving } from '../decider';
import type { JoinTokenEvent } from './events';
import type { JoinTokenState } from './state';

export const evolve = (s: JoinTokenState, e: Evolving<JoinTokenEvent>): JoinTokenState => {
  switch (e.type) {
    case 'JoinTokenCreated':
      return { id: s.id, exists: true, ...e.data, createdAt: e.time };
    case 'JoinTokenUsed':
      return { ...s, usedBy: e.data.hostname, usedAt: e.time };
    case 'JoinTokenRevoked':
      return { ...s, revokedAt: e.time };
  }
};
