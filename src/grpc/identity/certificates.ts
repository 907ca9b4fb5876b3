import { certificateFacts } from '../../pki/certificate';
import { type ClusterCa, issue, publicKeyOf, publicKeyOfCsr } from '../../pki/cluster-ca';
import { newKey } from '../../pki/openssl';
import { InvalidArgument } from '../../errors';

const DEFAULT_DAYS = 90;
const MAX_DAYS = 825;

export interface MadeCertificate {
  readonly certificatePem: string;
  /** Only when the server made the key: handed to the caller once, never kept. */
  readonly privateKeyPem?: string;
  readonly facts: ReturnType<typeof certificateFacts>;
}

/**
 * A client certificate for `user:<name>` from the cluster CA: from the
 * caller's CSR (its subject is ignored: the name is ours to give), or for a
 * key made here when there is none.
 */
export const makeUserCertificate = async (ca: ClusterCa, name: string, csrPem: string, validDays: number): Promise<MadeCertificate> => {
  if (validDays < 0 || validDays > MAX_DAYS) throw new InvalidArgument(`valid_days: ${validDays} is not between 1 and ${MAX_DAYS} (0: ${DEFAULT_DAYS})`);
  const days = validDays || DEFAULT_DAYS;
  const privateKeyPem = csrPem ? undefined : await newKey();
  const publicKeyPem = privateKeyPem ? await publicKeyOf(privateKeyPem) : await publicKeyOfCsr(csrPem);
  const certificatePem = await issue(ca, { commonName: `user:${name}`, publicKeyPem, days, usage: 'client' });
  return { certificatePem, ...(privateKeyPem ? { privateKeyPem } : {}), facts: certificateFacts(certificatePem) };
};
