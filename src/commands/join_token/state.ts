export interface JoinTokenState {
  /** The token id (the aggregate id). */
  readonly id: string;
  readonly exists: boolean;
  readonly secretHash?: string;
  readonly expiresAt?: string;
  readonly server?: string;
  readonly createdAt?: Date;
  /** The host that joined with it: single use. */
  readonly usedBy?: string;
  readonly usedAt?: Date;
  readonly revokedAt?: Date;
}

export const initialState = (id: string): JoinTokenState => ({ id, exists: false });
