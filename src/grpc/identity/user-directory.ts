import type { Directory, PresentedCertificate } from '../../authz/directory';
import type { Identity } from '../../authz/identity';
import type { UserState } from '../../commands/user/state';

/**
 * Users as the authenticator sees them, from their read model: a
 * certificate counts only if the log recorded it for a user that exists and
 * did not revoke it (an allow list: a certificate the CA signed outside the
 * log, or one of a deleted user, never does).
 */
export const userDirectory = (users: { state(id: string): UserState | undefined }): Directory => ({
  identify(cert: PresentedCertificate): Identity | { refused: string } {
    const m = /^user:(.+)$/.exec(cert.commonName);
    if (!m) return { refused: `${cert.commonName || 'a certificate without a name'} is not an identity of this cluster` };
    const s = users.state(m[1]);
    if (!s?.exists) return { refused: `${cert.commonName} does not exist (deleted, or never created)` };
    const c = s.certificates.find((x) => x.serial === cert.serial);
    if (!c) return { refused: `certificate ${cert.serial} of ${cert.commonName} was not issued by this cluster's log` };
    if (c.revokedAt) return { refused: `certificate ${cert.serial} of ${cert.commonName} was revoked at ${c.revokedAt.toISOString()}` };
    return { name: cert.commonName, role: s.role!, ...(s.tenant ? { tenant: s.tenant } : {}) };
  },
});
