import type { Directory, PresentedCertificate } from './directory';
import { type Identity, LOCAL_ADMIN } from './identity';

/**
 * The identities no user record stands behind: the local administrator
 * (`<data-dir>/pki/admin.crt`, made by the server on its own host) and
 * nodes (`node:<host>`, the only certificates of the CA with that name). Users
 * are looked up in `users` (their read model).
 */
export const directoryOf = (users?: Directory): Directory => ({
  identify: (cert: PresentedCertificate): Identity | { refused: string } => {
    if (cert.commonName === LOCAL_ADMIN.name) return LOCAL_ADMIN;
    // Agents; which node may do what is Security II's (join tokens, one identity per host).
    if (/^node:[A-Za-z0-9.-]{1,63}$/.test(cert.commonName)) return { name: cert.commonName, role: 'node' };
    if (users) return users.identify(cert);
    return { refused: `${cert.commonName || 'a certificate without a name'} is not an identity of this cluster` };
  },
});
