import type { Directory, PresentedCertificate } from './directory';
import { type Identity, LOCAL_ADMIN, WEB_CONSOLE } from './identity';

/**
 * The identities no user record stands behind: the local administrator
 * (`<data-dir>/pki/admin.crt`, made by the server on its own host) and the
 * web console. Nodes and users are looked up in `users` (their read models:
 * a node's certificate counts only as the log recorded it when it joined).
 */
const stranger = (name: string) => ({ refused: `${name || 'a certificate without a name'} is not an identity of this cluster` });

export const directoryOf = (users?: Directory): Directory => ({
  identify: (cert: PresentedCertificate): Identity | { refused: string } => {
    if (cert.commonName === LOCAL_ADMIN.name) return LOCAL_ADMIN;
    // Acts only for a session's identity (the interceptor swaps it in); alone it has no role's rights.
    if (cert.commonName === WEB_CONSOLE) return { name: WEB_CONSOLE, role: 'viewer' };
    if (users) return users.identify(cert);
    return stranger(cert.commonName);
  },
  named: (name: string): Identity | { refused: string } => {
    if (name === LOCAL_ADMIN.name) return LOCAL_ADMIN;
    if (users) return users.named(name);
    return stranger(name);
  },
});
