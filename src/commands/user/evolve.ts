import type { Evolving } from '../decider';
import type { UserEvent } from './events';
import type { UserState } from './state';

const revokeAll = (s: UserState, time: Date, only?: string): UserState['certificates'] =>
  s.certificates.map((c) => (c.revokedAt || (only !== undefined && c.serial !== only) ? c : { ...c, revokedAt: time }));

export const evolve = (s: UserState, e: Evolving<UserEvent>): UserState => {
  switch (e.type) {
    case 'UserCreated':
      return { id: s.id, exists: true, role: e.data.role, ...(e.data.tenant ? { tenant: e.data.tenant } : {}), createdAt: e.time, certificates: s.certificates };
    case 'RoleBound':
      return { ...s, role: e.data.role };
    case 'CertificateIssued':
      return { ...s, certificates: [...s.certificates, { ...e.data, issuedAt: e.time }] };
    case 'CertificateRevoked':
      return { ...s, certificates: revokeAll(s, e.time, e.data.serial) };
    case 'UserDeleted':
      return { id: s.id, exists: false, certificates: revokeAll(s, e.time) };
  }
};
