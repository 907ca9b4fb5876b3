import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { writeAtomic, writeExclusive } from './exclusive-file';
import { X509Certificate } from 'node:crypto';
import { type CertificateFacts, certificateFacts, dueForRenewal } from './certificate';
import { type ClusterCa, issue, publicKeyOf, type Usage } from './cluster-ca';
import { newKey } from './openssl';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export interface KeyPairFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EnsuredPair extends KeyPairFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly facts: CertificateFacts;
  /** Why it was (re)issued, if it was. */
  readonly issued?: 'missing' | 'renewal' | 'other-ca' | 'names';
}

/**
 * A key and a certificate from the CA on disk (key mode 0600), issued anew
 * when missing, signed by another CA, lacking a wanted name, or with less
 * than a third of its life left. The key is kept across renewals.
 */
export const ensurePair = async (
  ca: ClusterCa,
  files: KeyPairFiles,
  want: { commonName: string; usage: Usage; days: number; sans?: readonly string[] },
  now = new Date(),
): Promise<EnsuredPair> => {
  let issued: EnsuredPair['issued'];
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) issued = 'missing';
  else {
    const cert = new X509Certificate(readFileSync(files.certFile));
    const facts = certificateFacts(readFileSync(files.certFile));
    if (!cert.checkIssued(new X509Certificate(ca.certPem)) || !cert.verify(new X509Certificate(ca.certPem).publicKey)) issued = 'other-ca';
    else if (facts.commonName !== want.commonName || (want.sans ?? []).some((n) => !(cert.subjectAltName ?? '').split(', ').some((s) => s.endsWith(`:${n}`))))
      issued = 'names';
    else if (want.usage === 'node' && !(cert.keyUsage ?? []).includes(SERVER_AUTH)) issued = 'names';
    else if (dueForRenewal(facts, now)) issued = 'renewal';
  }
  if (issued) {
    // One key, whoever makes it first (servers starting together on one data dir); each may write a certificate for it.
    const keyPem = existsSync(files.keyFile) ? readFileSync(files.keyFile, 'utf8') : writeExclusive(files.keyFile, await newKey(), 0o600).content;
    writeAtomic(files.certFile, await issue(ca, { ...want, publicKeyPem: await publicKeyOf(keyPem) }), 0o644);
  }
  chmodSync(files.keyFile, 0o600);
  const certPem = readFileSync(files.certFile, 'utf8');
  return { ...files, certPem, keyPem: readFileSync(files.keyFile, 'utf8'), facts: certificateFacts(certPem), ...(issued ? { issued } : {}) };
};
