import { createHash, randomBytes } from 'node:crypto';

/** A login URL is good once, for five minutes. */
export const LOGIN_TTL_MS = 5 * 60_000;
/** A session ends after an hour without a request. */
export const SESSION_IDLE_MS = 60 * 60_000;
/** And twelve hours after its login, however busy (the sessions bucket's TTL: its entries go then). */
export const SESSION_MAX_MS = 12 * 60 * 60_000;
/** A session's last request is written down at most this often (a write per request would be one per page call). */
export const SEEN_EVERY_MS = 60_000;

/** A login token or session id: 32 random bytes, base64url (43 characters). */
export const newSecret = (): string => randomBytes(32).toString('base64url');

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * The bucket key for a secret: its SHA-256, never the secret itself, so what
 * the bucket holds cannot be used to log in or to act as a session (the
 * secrets are 256 random bits: a fast hash is as safe as a slow one here).
 * Undefined for anything that is not a secret of ours (no lookup for it).
 */
export const keyOf = (kind: 'login' | 'spent' | 'session' | 'seen', secret: string | undefined): string | undefined =>
  secret && SECRET.test(secret) ? `${kind}.${createHash('sha256').update(secret).digest('base64url')}` : undefined;

/** What the bucket says of a login or a session: who, and when it was made or ends. */
export interface Grant {
  readonly identity: string;
  /** Epoch ms: a login's end, a session's start. */
  readonly at: number;
}

export const encodeGrant = (g: Grant): Uint8Array => new TextEncoder().encode(JSON.stringify(g));

export const decodeGrant = (bytes: Uint8Array): Grant | undefined => {
  try {
    const g = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Grant>;
    return typeof g.identity === 'string' && typeof g.at === 'number' ? { identity: g.identity, at: g.at } : undefined;
  } catch {
    return undefined;
  }
};

/** A login token is live until its end. */
export const loginLive = (g: Grant, now: number): boolean => now <= g.at;

/**
 * A session is live for an hour after its last request (`lastSeen`, or its
 * start when none was written down) and twelve after its start.
 */
export const sessionLive = (g: Grant, lastSeen: number | undefined, now: number): boolean =>
  now - g.at <= SESSION_MAX_MS && now - Math.max(g.at, lastSeen ?? 0) <= SESSION_IDLE_MS;

/** Whether this request's time is to be written down (the last one written is a minute old or more). */
export const seenDue = (g: Grant, lastSeen: number | undefined, now: number): boolean => now - Math.max(g.at, lastSeen ?? 0) >= SEEN_EVERY_MS;
