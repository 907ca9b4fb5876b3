import type { Role } from '../../authz/identity';

/** A certificate as the log knows it: never the key. */
export interface CertificateRecord {
  /** Lower-case hex. */
  readonly serial: string;
  readonly fingerprint: string;
  readonly notAfter: string;
  readonly issuedAt: Date;
  readonly revokedAt?: Date;
}

export interface UserState {
  /** The user's name (the aggregate id); the identity is `user:<name>`. */
  readonly id: string;
  readonly exists: boolean;
  readonly role?: Role;
  readonly tenant?: string;
  readonly createdAt?: Date;
  /**
   * Every certificate ever issued under this name, kept across a deletion
   * and revoked by it, so a user made again with the same name can never
   * use the old one's certificates.
   */
  readonly certificates: readonly CertificateRecord[];
}

export const initialState = (id: string): UserState => ({ id, exists: false, certificates: [] });
