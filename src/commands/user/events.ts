import type { Role } from '../../authz/identity';

export type UserEvent =
  | { type: 'UserCreated'; data: { role: Role; tenant?: string } }
  | { type: 'RoleBound'; data: { role: Role } }
  | { type: 'CertificateIssued'; data: { serial: string; fingerprint: string; notAfter: string } }
  | { type: 'CertificateRevoked'; data: { serial: string } }
  /** Revokes every certificate the user still had. */
  | { type: 'UserDeleted'; data: Record<string, never> };
