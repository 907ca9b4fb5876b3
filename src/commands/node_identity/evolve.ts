import type { Evolving } from '../decider';
import type { NodeIdentityEvent } from './events';
import type { NodeIdentityState } from './state';

export const evolve = (s: NodeIdentityState, e: Evolving<NodeIdentityEvent>): NodeIdentityState => {
  switch (e.type) {
    case 'NodeCertificateIssued': {
      const { joinToken: _t, ...facts } = e.data;
      // A host that joins again after a revocation comes back with a new certificate; the old ones stay revoked.
      const { revokedAt: _r, ...rest } = s;
      return { ...rest, exists: true, certificates: [...s.certificates, { ...facts, issuedAt: e.time }] };
    }
    case 'NodeIdentityRevoked':
      return { ...s, revokedAt: e.time, certificates: s.certificates.map((c) => (c.revokedAt ? c : { ...c, revokedAt: e.time })) };
  }
};
