import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpRoutes } from '../http-server';
import { type ConsoleSessions, SESSION_TTL_MS } from './console-sessions';
import { setConsoleUser } from './console-user';
import { sendJson } from './http-status';

const COOKIE = 'hv_session';
const UI = /^\/ui(\/|$|\?)/;

const cookie = (value: string, maxAgeS: number) => `${COOKIE}=${value}; Path=/ui; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeS}`;

const sessionIdOf = (req: IncomingMessage): string | undefined => {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
};

/**
 * The web console in network mode: `/ui/login?token=…` (the URL `hvctl ui
 * login` prints) turns a one-time token into a session cookie; every other
 * /ui request, WebSockets included, needs a live session (401 otherwise)
 * and runs as the session's identity, whose role applies as on gRPC.
 */
export class SessionGate implements HttpRoutes {
  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly console: HttpRoutes,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    if (!UI.test(url)) return false;
    const u = new URL(url, 'https://console');
    if (u.pathname === '/ui/login') {
      const id = req.method === 'GET' ? this.sessions.redeem(u.searchParams.get('token') ?? '') : undefined;
      if (!id) {
        sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'this login URL is unknown, used or expired: run `hvctl ui login` again' });
        return true;
      }
      res.writeHead(303, { location: '/ui/', 'set-cookie': cookie(id, SESSION_TTL_MS / 1000), 'cache-control': 'no-store' }).end();
      return true;
    }
    const sid = sessionIdOf(req);
    const identity = this.sessions.identityOf(sid);
    if (!identity) {
      sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'the web console needs a session in network mode: run `hvctl ui login` and open the URL it prints' });
      return true;
    }
    // Renewed: another hour from now.
    res.setHeader('set-cookie', cookie(sid!, SESSION_TTL_MS / 1000));
    setConsoleUser(req, identity);
    return this.console.handle(req, res);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!UI.test(req.url ?? '')) return false;
    const identity = this.sessions.identityOf(sessionIdOf(req));
    if (!identity) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
      return true;
    }
    setConsoleUser(req, identity);
    return this.console.upgrade(req, socket, head);
  }
}
