import type { SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { ClusterPki } from '../../pki/cluster-pki';

/**
 * TLS options of both endpoints in network mode: TLS 1.3 only, our server
 * certificate, and a client certificate asked for and checked against the
 * cluster CA. A handshake without a valid one still completes
 * (rejectUnauthorized: false) so the call can be answered UNAUTHENTICATED
 * in words rather than by a dropped connection; such a peer is never
 * "authorized" and so never has an identity.
 */
export const tlsOptions = (pki: ClusterPki): SecureContextOptions & { requestCert: true; rejectUnauthorized: false; minVersion: 'TLSv1.3' } => ({
  ca: pki.ca.certPem,
  // The chain: a joining host finds the CA here and pins it by its token's fingerprint.
  cert: pki.server.certPem + pki.ca.certPem,
  key: pki.server.keyPem,
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.3',
});

/** grpc-js's createSsl offers neither a minimum version nor a verdict left to us: the same thing with both. */
class MutualTls13Credentials extends ServerCredentials {
  constructor(pki: ClusterPki) {
    const { ca, cert, key, ...server } = tlsOptions(pki);
    super(server, { ca, cert, key });
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export const grpcCredentials = (pki: ClusterPki | undefined): ServerCredentials => (pki ? new MutualTls13Credentials(pki) : ServerCredentials.createInsecure());
