import type { IncomingMessage } from 'node:http';

/**
 * A browser sends Origin with every WebSocket and every POST/DELETE; one that
 * names another site than the Host it talks to is a page elsewhere trying to
 * drive this console (cross-site request forgery). There is no
 * authentication yet, so this is the line that keeps other sites out; tools
 * that send no Origin (curl, scripts) are not browsers and pass.
 */
export const sameOrigin = (req: IncomingMessage): boolean => {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
};
