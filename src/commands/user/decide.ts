import { isRole } from '../../authz/identity';
import { AlreadyExists, InvalidArgument, NotFound } from '../../errors';
import type { UserCommand } from './commands';
import type { UserEvent } from './events';
import type { UserState } from './state';

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const SERIAL = /^[0-9a-f]{1,40}$/;

export const validUserName = (field: string, name: string): string => {
  if (!NAME.test(name)) throw new InvalidArgument(`${field}: "${name}" is not a user name (1-63 lower-case letters, digits and '-', starting with a letter)`);
  return name;
};

/** Tenants are named as users are. */
export const validTenant = (field: string, tenant: string): string => {
  if (!NAME.test(tenant)) throw new InvalidArgument(`${field}: "${tenant}" is not a tenant name (1-63 lower-case letters, digits and '-', starting with a letter)`);
  return tenant;
};

const validRole = (role: string) => {
  // Nodes get their identities by joining (Security II), never as users.
  if (!isRole(role) || role === 'node') throw new InvalidArgument(`role: "${role}" is not a user role (viewer, operator or admin)`);
  return role;
};

const existing = (s: UserState) => {
  if (!s.exists) throw new NotFound(`user ${s.id} not found`);
  return s;
};

export const decide = (c: UserCommand, s: UserState): UserEvent[] => {
  validUserName('name', s.id);
  switch (c.type) {
    case 'CreateUser': {
      const role = validRole(c.data.role);
      const tenant = c.data.tenant ? validTenant('tenant', c.data.tenant) : undefined;
      if (s.exists) {
        if (s.role === role && s.tenant === tenant) return [];
        throw new AlreadyExists(`user ${s.id} already exists`);
      }
      return [{ type: 'UserCreated', data: { role, ...(tenant ? { tenant } : {}) } }];
    }
    case 'BindRole': {
      const role = validRole(c.data.role);
      return existing(s).role === role ? [] : [{ type: 'RoleBound', data: { role } }];
    }
    case 'RecordCertificate': {
      existing(s);
      if (!SERIAL.test(c.data.serial)) throw new InvalidArgument(`serial: "${c.data.serial}" is not lower-case hex`);
      if (s.certificates.some((x) => x.serial === c.data.serial)) return [];
      return [{ type: 'CertificateIssued', data: { serial: c.data.serial, fingerprint: c.data.fingerprint, notAfter: c.data.notAfter } }];
    }
    case 'RevokeCertificate': {
      const cert = existing(s).certificates.find((x) => x.serial === c.data.serial);
      if (!cert) throw new NotFound(`user ${s.id} has no certificate with serial ${c.data.serial}`);
      return cert.revokedAt ? [] : [{ type: 'CertificateRevoked', data: { serial: c.data.serial } }];
    }
    case 'DeleteUser':
      existing(s);
      return [{ type: 'UserDeleted', data: {} }];
  }
};
