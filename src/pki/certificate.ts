import { X509Certificate } from 'node:crypto';

/** What the log and the API may say about a certificate: never its key. */
export interface CertificateFacts {
  readonly serial: string;
  /** SHA-256 of the DER, colon-separated hex as openssl prints it. */
  readonly fingerprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The subject's common name: the identity it was issued to (`user:alice`, `local:admin`). */
  readonly commonName: string;
}

/** Serials compare as lower-case hex without leading zeros, however a library prints them. */
export const normalSerial = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');

export const commonNameOf = (subject: string): string => /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? '';

export const certificateFacts = (pem: string | Buffer): CertificateFacts => {
  const c = new X509Certificate(pem);
  return {
    serial: normalSerial(c.serialNumber),
    fingerprint: c.fingerprint256,
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    commonName: commonNameOf(c.subject),
  };
};

/** True when less than a third of the certificate's life is left at `now` (time to renew it). */
export const dueForRenewal = (f: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, now: Date): boolean =>
  f.notAfter.getTime() - now.getTime() < (f.notAfter.getTime() - f.notBefore.getTime()) / 3;
