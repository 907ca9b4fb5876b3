import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChannelCredentials, type ChannelOptions, credentials } from '@grpc/grpc-js';
import { targetHost, tlsTarget } from '../shared/tls-target';
import { CliError, EXIT } from './exit';

/** Where hvctl finds a server's CA and its own certificate and key. */
export interface TlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** The data dir of a server on this host: its pki/ holds the local administrator's certificate. */
const localPki = () => path.join(process.env.HV_DATA_DIR || path.join(os.homedir(), '.hypervisor'), 'pki');

const LOCAL = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/**
 * On the server's own host, with nothing configured, hvctl uses the local
 * administrator's certificate the server wrote (<data-dir>/pki/admin.*),
 * but only for the server that wrote it: the one whose network-mode marker
 * names the port hvctl talks to.
 */
export const localAdminFiles = (server: string): TlsFiles | undefined => {
  const m = /^(.*):(\d+)$/.exec(server);
  if (!m || !LOCAL.test(m[1])) return undefined;
  const dir = localPki();
  const marker = path.join(dir, 'serving-tls');
  if (!existsSync(marker)) return undefined;
  const port = /:(\d+)\s*$/.exec(readFileSync(marker, 'utf8'))?.[1];
  if (port !== m[2]) return undefined;
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'admin.crt'), key: path.join(dir, 'admin.key') };
};

const read = (what: string, file: string): Buffer => {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`INVALID_ARGUMENT: ${what}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, EXIT.INVALID_ARGUMENT);
  }
};

/** Plaintext without files (development mode); TLS with the CA and the client certificate otherwise. */
export const channelFor = (server: string, f: TlsFiles): { credentials: ChannelCredentials; channelOptions: ChannelOptions } => {
  if (!f.ca && !f.cert && !f.key) return { credentials: credentials.createInsecure(), channelOptions: {} };
  if (!f.ca || !f.cert || !f.key) throw new CliError('INVALID_ARGUMENT: --ca, --cert and --key go together (or HVCTL_CA, HVCTL_CERT, HVCTL_KEY, or a context): give all three', EXIT.INVALID_ARGUMENT);
  // A loopback address: check the certificate for "localhost", which every server certificate holds (of 127/8, only 127.0.0.1).
  const target = /^127\./.test(targetHost(server)) ? { channelOptions: { 'grpc.ssl_target_name_override': 'localhost' }, checkServerIdentity: undefined } : tlsTarget(server);
  return { credentials: credentials.createSsl(read('--ca', f.ca), read('--key', f.key), read('--cert', f.cert), { checkServerIdentity: target.checkServerIdentity }), channelOptions: target.channelOptions };
};
