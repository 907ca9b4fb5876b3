import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { waitForFile, writeExclusive } from './exclusive-file';
import path from 'node:path';
import { InvalidArgument } from '../errors';
import { newKey, openssl, withScratch } from './openssl';

/** The cluster CA: its certificate, and the file of its key (read by openssl only, never by anything that logs). */
export interface ClusterCa {
  readonly certPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A node's certificate is both: it calls the control plane, and serves AgentService to it. */
export type Usage = 'client' | 'server' | 'node';

export interface IssueRequest {
  /** The subject's common name: the identity (`user:alice`, `local:admin`) or the server's name. */
  readonly commonName: string;
  /** The public key (PEM) the certificate certifies. */
  readonly publicKeyPem: string;
  readonly days: number;
  readonly usage: Usage;
  /** Server certificates: DNS names and IP addresses. */
  readonly sans?: readonly string[];
}

const CA_DAYS = 3650;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;

/** Subject names are identities we make: refuse anything openssl's -subj syntax would read as more than one name. */
const subjectOf = (cn: string) => {
  if (!/^[A-Za-z0-9_.:@-]{1,64}$/.test(cn)) throw new InvalidArgument(`common name "${cn}": use 1-64 letters, digits or _.:@-`);
  return `/CN=${cn}`;
};

const extensions = (usage: Usage, sans: readonly string[]) =>
  [
    'basicConstraints=critical,CA:FALSE',
    `keyUsage=critical,digitalSignature${usage === 'client' ? '' : ',keyEncipherment'}`,
    `extendedKeyUsage=${{ server: 'serverAuth', client: 'clientAuth', node: 'serverAuth,clientAuth' }[usage]}`,
    ...(sans.length ? [`subjectAltName=${sans.map((s) => (IP.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',')}`] : []),
  ].join('\n');

/** A certificate signed by the CA, with a random 128-bit serial. Negative `days` makes one already expired (tests). */
export const issue = (ca: ClusterCa, r: IssueRequest): Promise<string> =>
  withScratch(async (file) =>
    openssl([
      'x509', '-new',
      '-subj', subjectOf(r.commonName),
      '-force_pubkey', await file('subject.pub', r.publicKeyPem),
      '-CA', ca.certFile,
      '-CAkey', ca.keyFile,
      '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-days', String(r.days),
      '-extfile', await file('ext.cnf', extensions(r.usage, r.sans ?? [])),
    ]),
  );

/** The public key of a PEM private key. */
export const publicKeyOf = (keyPem: string): Promise<string> => withScratch(async (file) => openssl(['pkey', '-in', await file('k.pem', keyPem), '-pubout']));

/** The public key a CSR asks to be certified, once its self-signature is checked; INVALID_ARGUMENT otherwise. */
export const publicKeyOfCsr = (csrPem: string): Promise<string> =>
  withScratch(async (file) => {
    const csr = await file('req.csr', csrPem);
    try {
      await openssl(['req', '-in', csr, '-verify', '-noout']);
      return await openssl(['req', '-in', csr, '-pubkey', '-noout']);
    } catch {
      throw new InvalidArgument('csr: not a PEM certificate signing request with a valid self-signature');
    }
  });

/**
 * The cluster CA in `dir` (`ca.crt`, `ca.key` mode 0600), made on the first
 * start; or the operator's own (`own`), whose key stays where they keep it.
 */
export const ensureCa = async (dir: string, own?: { certFile: string; keyFile: string }): Promise<ClusterCa> => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (own) {
    const certPem = readFileSync(own.certFile, 'utf8');
    if (!new X509Certificate(certPem).ca) throw new InvalidArgument(`--tls-ca-cert: ${own.certFile} is not a CA certificate`);
    return { certPem, certFile: own.certFile, keyFile: own.keyFile };
  }
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  if (!existsSync(certFile)) {
    // The key decides who makes the CA: a server that loses the race waits for the winner's certificate.
    const key = writeExclusive(keyFile, existsSync(keyFile) ? readFileSync(keyFile, 'utf8') : await newKey(), 0o600);
    if (key.won || !existsSync(certFile)) {
      if (!key.won) await waitForFile(certFile, 5_000).catch(() => undefined);
      if (!existsSync(certFile)) {
        const cert = await openssl([
          'req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=hypervisor cluster CA', '-days', String(CA_DAYS),
          '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        ]);
        writeExclusive(certFile, cert, 0o644);
      }
    }
  }
  chmodSync(keyFile, 0o600);
  return { certPem: readFileSync(certFile, 'utf8'), certFile, keyFile };
};
