import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The secret that signs page tokens: the configured one, else a random one
 * made once for this data dir and kept in `page-token-secret` (mode 0600),
 * so a restart keeps accepting the tokens it handed out. Replicas on other
 * hosts must be given the same secret (HV_PAGE_TOKEN_SECRET).
 */
export const pageTokenSecret = (configured: string | undefined, dataDir: string): string => {
  if (configured) return configured;
  const file = path.join(dataDir, 'page-token-secret');
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) {
      chmodSync(file, 0o600);
      return s;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // 'wx': two processes starting on one data dir at once keep the first one's.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw e;
  }
};
