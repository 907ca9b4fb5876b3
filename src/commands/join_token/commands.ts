/** `at` is the handler's clock, passed in so the decider stays pure. */
export type JoinTokenCommand =
  | { type: 'CreateJoinToken'; data: { secretHash: string; expiresAt: string; server: string } }
  | { type: 'UseJoinToken'; data: { secretHash: string; hostname: string; at: string } }
  | { type: 'RevokeJoinToken'; data: Record<string, never> };
