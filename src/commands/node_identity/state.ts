import type { CertificateRecord } from '../user/state';

/** A host's identity `node:<hostname>`: the certificates the log issued it (never a key). */
export interface NodeIdentityState {
  /** The host name (the aggregate id). */
  readonly id: string;
  readonly exists: boolean;
  readonly certificates: readonly CertificateRecord[];
  readonly revokedAt?: Date;
}

export const initialState = (id: string): NodeIdentityState => ({ id, exists: false, certificates: [] });

/** Whether a presented certificate's serial counts for this node now. */
export const validSerial = (s: NodeIdentityState | undefined, serial: string): 'valid' | 'revoked' | 'unknown' => {
  const c = s?.certificates.find((x) => x.serial === serial);
  if (!c) return 'unknown';
  return c.revokedAt ? 'revoked' : 'valid';
};
