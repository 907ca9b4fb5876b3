import type { Role } from '../../authz/identity';

export type UserCommand =
  | { type: 'CreateUser'; data: { role: Role; tenant?: string } }
  | { type: 'BindRole'; data: { role: Role } }
  /** The certificate is made at the edge (openssl); the log records its facts. */
  | { type: 'RecordCertificate'; data: { serial: string; fingerprint: string; notAfter: string } }
  | { type: 'RevokeCertificate'; data: { serial: string } }
  | { type: 'DeleteUser'; data: Record<string, never> };
