import type { Directory, PresentedCertificate } from '../../authz/directory';
import type { Identity } from '../../authz/identity';
import { type NodeIdentityState, validSerial } from '../../commands/node_identity';

const NODE = /^node:([A-Za-z0-9][A-Za-z0-9.-]{0,62})$/;

/**
 * Nodes as the authenticator sees them: a `node:<host>` certificate counts
 * only if the log recorded it when the host joined (or renewed) and it was
 * not revoked since; or if it is the certificate of the agent this server
 * runs itself (made directly in <data-dir>/pki, never by a token). Anything
 * else falls through to `others` (users).
 */
export const nodeDirectory = (
  nodes: { state(id: string): NodeIdentityState | undefined },
  /** The serial of <data-dir>/pki/node.crt, read as it is now. */
  localSerial: () => string | undefined,
  others: Directory,
): Directory => ({
  identify(cert: PresentedCertificate): Identity | { refused: string } {
    const m = NODE.exec(cert.commonName);
    if (!m) return others.identify(cert);
    const identity: Identity = { name: cert.commonName, role: 'node' };
    if (cert.serial === localSerial()) return identity;
    const s = nodes.state(m[1]);
    switch (validSerial(s, cert.serial)) {
      case 'valid':
        return identity;
      case 'revoked':
        return { refused: `certificate ${cert.serial} of ${cert.commonName} was revoked${s?.revokedAt ? ` at ${s.revokedAt.toISOString()}` : ''}` };
      case 'unknown':
        return { refused: `certificate ${cert.serial} of ${cert.commonName} was not issued by this cluster's log (a host joins with hvctl node join-token create)` };
    }
  },
  named: (name) => others.named(name),
});
