import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../errors';

/** An agent's --nats-token-file, with an error that says what to do. */
export const readTokenFile = (file: string): string => {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new InvalidArgument(`--nats-token-file: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!token) throw new InvalidArgument(`--nats-token-file: ${file} is empty; copy the server's <data-dir>/nats/token`);
  return token;
};
