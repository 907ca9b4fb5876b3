import type { Directory, PresentedCertificate } from '../../authz/directory';
import type { Identity } from '../../authz/identity';
import type { UserState } from '../../commands/user/state';

/**
 * Users as the authenticator sees them, from their read model: a
 * certificate counts only if the log recorded it for a user that exists and
 * did not revoke it (an allow list: a certificate the CA signed outside the
 * log, or one of a deleted user, never does).
 */
export const userDirectory = (users: { state(id: string): UserState | undefined }): Directory => {
  const user = (name: string): UserState | { refused: string } => {
    const m = /^user:(.+)$/.exec(name);
    if (!m) return { refused: `${name || 'a certificate without a name'} is not an identity of this cluster` };
    const s = users.state(m[1]);
    return s?.exists ? s : { refused: `${name} does not exist (deleted, or never created)` };
  };
  const identity = (name: string, s: UserState): Identity => ({ name, role: s.role!, ...(s.tenant ? { tenant: s.tenant } : {}) });
  return {
  identify(cert: PresentedCertificate): Identity | { refused: string } {
    const s = user(cert.commonName);
    if ('refused' in s) return s;
    const c = s.certificates.find((x) => x.serial === cert.serial);
    if (!c) return { refused: `certificate ${cert.serial} of ${cert.commonName} was not issued by this cluster's log` };
    if (c.revokedAt) return { refused: `certificate ${cert.serial} of ${cert.commonName} was revoked at ${c.revokedAt.toISOString()}` };
    return identity(cert.commonName, s);
  },
  named(name: string): Identity | { refused: string } {
    const s = user(name);
    return 'refused' in s ? s : identity(name, s);
  },
  };
};
