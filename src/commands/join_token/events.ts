export type JoinTokenEvent =
  /** The secret only as its SHA-256: the token is shown once, to its creator. */
  | { type: 'JoinTokenCreated'; data: { secretHash: string; expiresAt: string; server: string } }
  | { type: 'JoinTokenUsed'; data: { hostname: string } }
  | { type: 'JoinTokenRevoked'; data: Record<string, never> };
