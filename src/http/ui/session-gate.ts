import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpRoutes } from '../http-server';
import type { ConsoleSessions } from './console-sessions';
import { setConsoleUser } from './console-user';
import { sendJson } from './http-status';
import { sameOrigin } from './same-origin';
import { sessionCookie, sessionIdOf } from './session-cookie';
import { SESSION_IDLE_MS } from './session-keys';

const UI = /^\/ui(\/|$|\?)/;

/** The console behind the gate, and which pages it lets in (its own and the other replicas'). */
export interface GatedConsole extends HttpRoutes {
  admits?(req: IncomingMessage): boolean;
  cors?(req: IncomingMessage, res: ServerResponse): boolean;
}
const COOKIE_AGE_S = SESSION_IDLE_MS / 1000;

/**
 * The web console in network mode: `/ui/login?token=…` (the URL `hvctl ui
 * login` prints) turns a one-time token into a session cookie; `POST
 * /ui/logout` ends the session on every replica; every other /ui request,
 * WebSockets included, needs a live session (401 otherwise) and runs as the
 * session's identity, whose role applies as on gRPC. Sessions live in the
 * replicas' shared bucket (console-sessions.ts): any replica takes the
 * cookie another made.
 */
export class SessionGate implements HttpRoutes {
  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly console: GatedConsole,
    /** --ui-cookie-domain: the cookie goes to every host under it. */
    private readonly cookieDomain?: string,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (!UI.test(req.url ?? '')) return false;
    void this.serve(req, res).catch(() => {
      // NATS away: no session can be checked, and another replica may answer.
      if (!res.headersSent) sendJson(res, 503, { code: 'UNAVAILABLE', message: 'console sessions cannot be read now: try again' });
      else res.destroy();
    });
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '', 'https://console');
    if (u.pathname === '/ui/login') {
      const id = req.method === 'GET' ? await this.sessions.redeem(u.searchParams.get('token') ?? '') : undefined;
      if (!id) return void sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'this login URL is unknown, used or expired: run `hvctl ui login` again' });
      res.writeHead(303, { location: '/ui/', 'set-cookie': sessionCookie(id, COOKIE_AGE_S, this.cookieDomain), 'cache-control': 'no-store' }).end();
      return;
    }
    // A CORS preflight (the page of another replica about to call this one) carries no cookie, by the Fetch standard:
    // the console answers it for the replicas' own origins only, and it calls nothing.
    if (req.method === 'OPTIONS' && u.pathname.startsWith('/ui/api/')) return void this.console.handle(req, res);
    const sid = sessionIdOf(req);
    if (u.pathname === '/ui/logout') {
      if (req.method !== 'POST') return void sendJson(res, 405, { code: 'INVALID_ARGUMENT', message: 'logout: POST' });
      // A page of another site cannot log the user out; a page of another replica can (its own replica may be the dead one).
      if (!(this.console.admits?.(req) ?? sameOrigin(req))) return void sendJson(res, 403, { code: 'PERMISSION_DENIED', message: `origin ${req.headers.origin} is not this console's` });
      this.console.cors?.(req, res);
      await this.sessions.end(sid);
      res.writeHead(204, { 'set-cookie': sessionCookie('', 0, this.cookieDomain), 'cache-control': 'no-store' }).end();
      return;
    }
    const identity = await this.sessions.identityOf(sid);
    if (!identity) {
      sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'the web console needs a session in network mode: run `hvctl ui login` and open the URL it prints' });
      return;
    }
    // The cookie's idle hour starts again, as the session's does.
    res.setHeader('set-cookie', sessionCookie(sid!, COOKIE_AGE_S, this.cookieDomain));
    setConsoleUser(req, identity);
    if (!this.console.handle(req, res)) sendJson(res, 404, { code: 'NOT_FOUND', message: `no ${u.pathname}` });
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!UI.test(req.url ?? '')) return false;
    this.sessions.identityOf(sessionIdOf(req)).then(
      (identity) => {
        if (!identity) return void socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
        setConsoleUser(req, identity);
        if (!this.console.upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      },
      () => socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n'),
    );
    return true;
  }
}
