import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpRoutes } from '../http-server';
import { sendJson } from './http-status';

const UI = /^\/ui(\/|$|\?)/;

/** The web console in network mode without a session: the page, its API and its WebSockets answer 401. */
export const loginRequired: HttpRoutes = {
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (!UI.test(req.url ?? '')) return false;
    sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'the web console needs a session in network mode: run `hvctl ui login` and open the URL it prints' });
    return true;
  },
  upgrade(req: IncomingMessage, socket: Duplex): boolean {
    if (!UI.test(req.url ?? '')) return false;
    socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
    return true;
  },
};
