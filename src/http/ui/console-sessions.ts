import { randomBytes } from 'node:crypto';

const LOGIN_TTL_MS = 5 * 60_000;
export const SESSION_TTL_MS = 60 * 60_000;

interface Grant {
  readonly identity: string;
  expires: number;
}

/**
 * The web console's logins and sessions, in this process's memory: a login
 * token is good once for five minutes; a session for an hour, renewed by
 * every request in it. Neither is ever logged or written down; a restart
 * ends every session (log in again).
 */
export class ConsoleSessions {
  private readonly logins = new Map<string, Grant>();
  private readonly sessions = new Map<string, Grant>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A one-time login token for `identity` (`user:alice`, `local:admin`). */
  mintLogin(identity: string): { token: string; expiresAt: Date } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const expires = this.now() + LOGIN_TTL_MS;
    this.logins.set(token, { identity, expires });
    return { token, expiresAt: new Date(expires) };
  }

  /** Spends a login token: a new session id, or undefined for a token unknown, spent or expired. */
  redeem(token: string): string | undefined {
    const g = this.logins.get(token);
    this.logins.delete(token);
    if (!g || g.expires < this.now()) return undefined;
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { identity: g.identity, expires: this.now() + SESSION_TTL_MS });
    return id;
  }

  /** The identity of a live session, whose hour starts again. */
  identityOf(sessionId: string | undefined): string | undefined {
    if (!sessionId) return undefined;
    const s = this.sessions.get(sessionId);
    if (!s || s.expires < this.now()) {
      this.sessions.delete(sessionId ?? '');
      return undefined;
    }
    s.expires = this.now() + SESSION_TTL_MS;
    return s.identity;
  }

  private sweep(): void {
    const t = this.now();
    for (const m of [this.logins, this.sessions]) for (const [k, g] of m) if (g.expires < t) m.delete(k);
  }
}
