import { openssl, withScratch } from './openssl';

/** A certificate signing request for `commonName` with the key (PEM) that never leaves this host. */
export const csrFor = (keyPem: string, commonName: string): Promise<string> =>
  withScratch(async (file) => openssl(['req', '-new', '-key', await file('k.pem', keyPem), '-subj', `/CN=${commonName}`]));
