export type NodeIdentityEvent =
  | { type: 'NodeCertificateIssued'; data: { serial: string; fingerprint: string; notAfter: string; joinToken?: string } }
  /** Every certificate the host had stops counting: gRPC, AgentService and NATS refuse it. */
  | { type: 'NodeIdentityRevoked'; data: Record<string, never> };
