import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { InvalidArgument } from '../errors';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port` or `[v6]:port`, as --nats-listen takes it. */
export const parseListen = (value: string, flag = '--nats-listen'): ListenAddress => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !(port >= 0 && port <= 65535)) throw new InvalidArgument(`${flag}: "${value}" is not host:port (e.g. 0.0.0.0:4222)`);
  if (host !== 'localhost' && !ipaddr.isValid(host)) throw new InvalidArgument(`${flag}: "${host}" is not an IP address`);
  return { host, port };
};

/** Only loopback is safe without a token: anything else may be reached by other hosts. */
export const isLoopback = (host: string): boolean => host === 'localhost' || (ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback');

/** The address local clients use to reach a server listening on `host` (an unspecified address means every interface). */
export const localAddress = (host: string): string => (ipaddr.isValid(host) && ipaddr.process(host).range() === 'unspecified' ? '127.0.0.1' : host);

/** Where the embedded nats-server's token lives: copy it to the agents' hosts for --nats-token-file. */
export const tokenFile = (natsDir: string): string => path.join(natsDir, 'token');

/** The token of this data dir, made once (mode 0600) and kept across restarts, so agents keep working. */
export const ensureToken = (natsDir: string): { token: string; file: string } => {
  const file = tokenFile(natsDir);
  mkdirSync(natsDir, { recursive: true });
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { token: readFileSync(file, 'utf8').trim(), file };
};
