import type { Identity } from './identity';

/** A client certificate as the TLS layer verified it (chain to the cluster CA, dates, client use). */
export interface PresentedCertificate {
  readonly commonName: string;
  /** Lower-case hex, as `certificateFacts` gives it. */
  readonly serial: string;
}

/**
 * Who a verified certificate belongs to now: an identity, or why it no
 * longer counts (user deleted, certificate revoked). A read model, so every
 * replica refuses a revoked certificate as soon as it has read the revocation.
 */
export interface Directory {
  identify(cert: PresentedCertificate): Identity | { readonly refused: string };
  /** An identity by name, as it is now (the web console's sessions are by name). */
  named(name: string): Identity | { readonly refused: string };
}
