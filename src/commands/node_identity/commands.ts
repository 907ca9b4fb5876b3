export type NodeIdentityCommand =
  /** The certificate is made at the edge (openssl, from the host's CSR); the log records its facts and the token it joined with. */
  | { type: 'RecordNodeCertificate'; data: { serial: string; fingerprint: string; notAfter: string; joinToken?: string } }
  | { type: 'RevokeNodeIdentity'; data: Record<string, never> };
