import type { Role as RoleName } from '../../authz/identity';
import type { UserState } from '../../commands/user/state';
import { type Certificate, Role, type User } from '../../gen/hypervisor/iam/v1/iam';

export const ROLE_TO_PROTO: Record<RoleName, Role> = { viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN, node: Role.ROLE_NODE };

export const roleFromProto = (r: Role): RoleName | undefined => (Object.entries(ROLE_TO_PROTO) as [RoleName, Role][]).find(([, p]) => p === r)?.[0];

export const toCertificate = (c: UserState['certificates'][number]): Certificate => ({
  serial: c.serial,
  fingerprint: c.fingerprint,
  notAfter: new Date(c.notAfter),
  issuedAt: c.issuedAt,
  revoked: !!c.revokedAt,
  revokedAt: c.revokedAt,
});

/** The User message: a user that exists, with every certificate it was issued (never a key). */
export const toUser = (s: UserState): User | undefined =>
  s.exists
    ? {
        name: s.id,
        identity: `user:${s.id}`,
        role: ROLE_TO_PROTO[s.role!],
        tenant: s.tenant ?? '',
        certificates: s.certificates.map(toCertificate),
        createdAt: s.createdAt,
      }
    : undefined;
