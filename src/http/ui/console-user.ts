import type { IncomingMessage } from 'node:http';

export { CONSOLE_USER_HEADER } from '../../authz/identity';

const users = new WeakMap<IncomingMessage, string>();

/** Network mode: the identity of the session a browser request belongs to, for the gRPC calls it causes. */
export const setConsoleUser = (req: IncomingMessage, identity: string): void => {
  users.set(req, identity);
};

export const consoleUserOf = (req: IncomingMessage): string | undefined => users.get(req);
