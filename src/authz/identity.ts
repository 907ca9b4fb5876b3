/** The roles, as Keystone's implied chain (viewer ⊂ operator ⊂ admin), and the agents' own. */
export const ROLES = ['viewer', 'operator', 'admin', 'node'] as const;
export type Role = (typeof ROLES)[number];

/** Who a call is made by, once authenticated: the actor of every event it causes. */
export interface Identity {
  /** `user:alice`, `node:<host>`, `local:admin`. */
  readonly name: string;
  readonly role: Role;
  /** Bound to a tenant: sees and makes only that tenant's resources. */
  readonly tenant?: string;
}

/** The local operator: development mode's every caller, and the holder of `<data-dir>/pki/admin.crt`. */
export const LOCAL_ADMIN: Identity = { name: 'local:admin', role: 'admin' };

/**
 * The web console's own certificate (made by the server, key in
 * <data-dir>/pki): it may do nothing itself; its calls act as the identity
 * of the browser session they serve.
 */
export const WEB_CONSOLE = 'system:web-console';

/** The header the console's own gRPC calls name their session's identity in; honoured from the console's certificate only. */
export const CONSOLE_USER_HEADER = 'x-hv-console-user';

const CHAIN: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Whether `have` grants what `need` does: admin implies operator implies viewer; node stands alone (admin has it too). */
export const grants = (have: Role, need: Role): boolean => {
  if (have === need || have === 'admin') return true;
  const h = CHAIN.indexOf(have);
  const n = CHAIN.indexOf(need);
  return h >= 0 && n >= 0 && h >= n;
};

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);
