import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'hv_session';

/**
 * The session cookie: HttpOnly (no script reads it), Secure, SameSite=Strict
 * (no other site's page sends it). Without a Domain it goes to this host
 * only, on any port: replicas on one host name (one machine, or one name for
 * several) all get it. With `domain` (--ui-cookie-domain) it goes to every
 * host under that domain: replicas at a.hv.example.com and b.hv.example.com.
 */
export const sessionCookie = (value: string, maxAgeS: number, domain?: string): string =>
  `${SESSION_COOKIE}=${value}; Path=/ui; ${domain ? `Domain=${domain}; ` : ''}HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeS}`;

/** The session id the request's Cookie header carries, if any. */
export const sessionIdOf = (req: Pick<IncomingMessage, 'headers'>): string | undefined => {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return v.join('=');
  }
  return undefined;
};
