import { createHash, X509Certificate } from 'node:crypto';
import { InvalidArgument } from '../errors';

/** What a join token carries: where the server is, which token, its secret, and the CA to pin. */
export interface JoinToken {
  /** host:port of the server's gRPC. */
  readonly server: string;
  /** The token's id: the aggregate the log keeps it under (never the secret). */
  readonly id: string;
  readonly secret: string;
  /** "sha256:<hex>" of the cluster CA certificate's DER, as kubeadm's discovery hash. */
  readonly ca: string;
}

const PREFIX = 'hvjoin1.';
export const TOKEN_ID = /^[0-9a-f]{16}$/;

/** The CA fingerprint as tokens carry it: sha256 of the DER, lower-case hex. */
export const caFingerprint = (pem: string | Buffer): string => `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;

/** The only form of the secret the log holds. */
export const secretHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export const encodeJoinToken = (t: JoinToken): string => PREFIX + Buffer.from(JSON.stringify(t)).toString('base64url');

/** A token as typed or pasted; INVALID_ARGUMENT naming what is wrong with its form (whether it is genuine is the server's to say). */
export const decodeJoinToken = (token: string, field = 'join token'): JoinToken => {
  const s = token.trim();
  let t: Partial<JoinToken> | undefined;
  try {
    if (s.startsWith(PREFIX)) t = JSON.parse(Buffer.from(s.slice(PREFIX.length), 'base64url').toString('utf8')) as Partial<JoinToken>;
  } catch {
    t = undefined;
  }
  if (!t || typeof t.server !== 'string' || typeof t.id !== 'string' || typeof t.secret !== 'string' || typeof t.ca !== 'string')
    throw new InvalidArgument(`${field}: not a join token (it starts with ${PREFIX}; make one with hvctl node join-token create)`);
  if (!/^sha256:[0-9a-f]{64}$/.test(t.ca)) throw new InvalidArgument(`${field}: its CA fingerprint "${t.ca}" is not sha256:<64 hex digits>`);
  return { server: t.server, id: t.id, secret: t.secret, ca: t.ca };
};
