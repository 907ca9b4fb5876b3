import type { Directory, PresentedCertificate } from './directory';
import { type Identity, LOCAL_ADMIN, WEB_CONSOLE } from './identity';

/**
 * The identities no user record stands behind: the local administrator
 * (`<data-dir>/pki/admin.crt`, made by the server on its own host) and
 * nodes (`node:<host>`, the only certificates of the CA with that name). Users
 * are looked up in `users` (their read model).
 */
const stranger = (name: string) => ({ refused: `${name || 'a certificate without a name'} is not an identity of this cluster` });

export const directoryOf = (users?: Directory): Directory => ({
  identify: (cert: PresentedCertificate): Identity | { refused: string } => {
    if (cert.commonName === LOCAL_ADMIN.name) return LOCAL_ADMIN;
    // Acts only for a session's identity (the interceptor swaps it in); alone it has no role's rights.
    if (cert.commonName === WEB_CONSOLE) return { name: WEB_CONSOLE, role: 'viewer' };
    // Agents; which node may do what is Security II's (join tokens, one identity per host).
    if (/^node:[A-Za-z0-9.-]{1,63}$/.test(cert.commonName)) return { name: cert.commonName, role: 'node' };
    if (users) return users.identify(cert);
    return stranger(cert.commonName);
  },
  named: (name: string): Identity | { refused: string } => {
    if (name === LOCAL_ADMIN.name) return LOCAL_ADMIN;
    if (users) return users.named(name);
    return stranger(name);
  },
});
