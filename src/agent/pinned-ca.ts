import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { Unauthenticated, Unavailable } from '../errors';
import { caFingerprint } from '../pki/join-token';

const hostPort = (server: string) => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(server);
  if (!m) throw new Error(`--server: "${server}" is not host:port`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
};

/**
 * The cluster CA as the server presents it in its chain, trusted only if
 * its SHA-256 is the one the join token carries (kubeadm's discovery hash)
 * and it signed the server's certificate: a host that has no CA yet cannot
 * be fooled by a server in the middle.
 */
export const pinnedCa = (server: string, fingerprint: string, timeoutMs = 10_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const { host, port } = hostPort(server);
    // Nothing is sent before the chain is checked; the connection only reads the server's certificates.
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => socket.destroy(new Unavailable(`${server} did not answer a TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof Unavailable ? e : new Unavailable(`cannot reach ${server}: ${e.message}`));
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      socket.end();
      const chain: Buffer[] = [];
      for (let c = leaf; c?.raw && !chain.some((r) => r.equals(c.raw)); c = c.issuerCertificate) chain.push(c.raw);
      const ca = chain.map((raw) => new X509Certificate(raw)).find((c) => caFingerprint(c.toString()) === fingerprint);
      if (!ca) return reject(new Unauthenticated(`${server} does not present the CA the join token names (${fingerprint}): not this cluster's server, or someone in between`));
      if (!new X509Certificate(chain[0]!).verify(ca.publicKey)) return reject(new Unauthenticated(`${server}'s certificate is not signed by the CA the join token names`));
      resolve(ca.toString());
    });
  });
