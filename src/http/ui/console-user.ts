import type { IncomingMessage } from 'node:http';

/** The header the console's own gRPC calls name their session's identity in; honoured only from the console's certificate. */
export const CONSOLE_USER_HEADER = 'x-hv-console-user';

const users = new WeakMap<IncomingMessage, string>();

/** Network mode: the identity of the session a browser request belongs to, for the gRPC calls it causes. */
export const setConsoleUser = (req: IncomingMessage, identity: string): void => {
  users.set(req, identity);
};

export const consoleUserOf = (req: IncomingMessage): string | undefined => users.get(req);
